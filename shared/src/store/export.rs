//! Everything held about one client, gathered for an export (GDPR/CCPA access requests).

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreResult, with_pool};
use crate::domain::AgentResponse;

/// The persona's answers in one simulation.
#[derive(Debug, Clone, Serialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SimulationAnswers {
    pub simulation_id: Uuid,
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub answers: Vec<AgentResponse>,
}

#[derive(Debug, Clone, Serialize, Object, sqlx::FromRow)]
#[oai(skip_serializing_if_is_none)]
pub struct RecommendationRecord {
    pub id: Uuid,
    pub run_id: Uuid,
    pub property_id: Uuid,
    pub rank: i32,
    pub score: f64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Object, sqlx::FromRow)]
#[oai(skip_serializing_if_is_none)]
pub struct FeedbackRecord {
    pub id: Uuid,
    pub recommendation_id: Uuid,
    pub property_id: Uuid,
    pub outcome: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What the service holds about a persona beyond the persona itself.
pub struct PersonaRecords {
    pub simulations: Vec<SimulationAnswers>,
    pub recommendations: Vec<RecommendationRecord>,
    pub feedback: Vec<FeedbackRecord>,
}

/// A run the client took part in, as the export reads it.
#[derive(sqlx::FromRow)]
struct RunRow {
    id: Uuid,
    kind: String,
    created_at: DateTime<Utc>,
    results: Option<Json<Value>>,
    sealed_results: Option<Vec<u8>>,
}

impl Store {
    pub async fn persona_records(
        &self,
        brokerage_id: Uuid,
        persona_id: Uuid,
    ) -> StoreResult<PersonaRecords> {
        // A simulation's plan lists its personas by id, so the plan's text finds every run the
        // persona took part in; its answers are then picked out of the results.
        let rows: Vec<RunRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, kind, created_at, results, sealed_results FROM simulations
                 WHERE brokerage_id = $1 AND (results IS NOT NULL OR sealed_results IS NOT NULL)
                   AND CAST(plan AS TEXT) LIKE $2
                 ORDER BY id",
            )
            .bind(brokerage_id)
            .bind(format!("%{persona_id}%"))
            .fetch_all(pool)
            .await
        })?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in rows {
            let results = self
                .open_results(row.id, row.results, row.sealed_results.as_deref())
                .await?;
            runs.push((
                row.id,
                row.kind,
                row.created_at,
                results.unwrap_or_default(),
            ));
        }
        let simulations = runs
            .into_iter()
            .filter_map(|(simulation_id, kind, created_at, results)| {
                let answers: Vec<AgentResponse> = results["raw_responses"]
                    .as_array()?
                    .iter()
                    .filter(|r| r["persona_id"].as_str() == Some(&persona_id.to_string()))
                    .filter_map(|r| serde_json::from_value(r.clone()).ok())
                    .collect();
                (!answers.is_empty()).then_some(SimulationAnswers {
                    simulation_id,
                    kind,
                    created_at,
                    answers,
                })
            })
            .collect();
        let recommendations = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, run_id, property_id, rank, score, created_at FROM match_recommendations
                 WHERE brokerage_id = $1 AND persona_id = $2 ORDER BY created_at, id",
            )
            .bind(brokerage_id).bind(persona_id)
            .fetch_all(pool)
            .await
        })?;
        let mut feedback: Vec<FeedbackRecord> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, recommendation_id, property_id, outcome, reason, created_at FROM match_feedback
                 WHERE brokerage_id = $1 AND persona_id = $2 ORDER BY created_at, id",
            )
            .bind(brokerage_id).bind(persona_id)
            .fetch_all(pool)
            .await
        })?;
        for record in &mut feedback {
            record.reason = self.open_reason(record.id, record.reason.take()).await?;
        }
        Ok(PersonaRecords {
            simulations,
            recommendations,
            feedback,
        })
    }
}
