//! Recommendations as brokers read them, and their feedback: recorded with the recommendation,
//! added to the client's persona, and read back by the scorer.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    BeginWrite, Store, StoreError, StoreResult, keys::seal_text, parse_column,
    sealed_profiles::seal_profile, versions::record_version, visible_persona, with_pool,
};
use crate::{
    auth::Principal,
    crypto::Purpose,
    domain::{Feedback, FeedbackOutcome, MatchRecommendation},
};

#[derive(sqlx::FromRow)]
struct RecommendationRow {
    id: Uuid,
    run_id: Uuid,
    rank: i32,
    persona_id: Uuid,
    property_id: Uuid,
    score: f64,
    /// Sealed text (a JSON string); rows of earlier releases hold the detail itself.
    detail: Json<Value>,
}

#[derive(sqlx::FromRow)]
struct FeedbackRow {
    id: Uuid,
    recommendation_id: Uuid,
    outcome: String,
    reason: Option<String>,
    created_by: Uuid,
    created_at: DateTime<Utc>,
}

/// Feedback on one pair, as the scorer uses it.
#[derive(Debug, Clone)]
pub struct PairFeedback {
    pub persona_id: Uuid,
    pub property_id: Uuid,
    pub outcome: FeedbackOutcome,
    pub reason: Option<String>,
}

/// The enrichment sources a persona profile may hold (its API validator's limit).
const MAX_ENRICHMENT_SOURCES: usize = 200;

impl Store {
    /// A feedback's reason, opened (sealed since this release; earlier ones in the clear).
    pub(super) async fn open_reason(
        &self,
        id: Uuid,
        reason: Option<String>,
    ) -> StoreResult<Option<String>> {
        match reason {
            Some(text) => Ok(Some(
                self.open_text(Purpose::FeedbackReason, id, &text).await?,
            )),
            None => Ok(None),
        }
    }
}

impl Store {
    /// A run's recommendations in rank order, leaving out clients the caller may not see.
    pub async fn recommendations(
        &self,
        caller: &Principal,
        run_id: Uuid,
    ) -> StoreResult<Vec<MatchRecommendation>> {
        self.ranked(caller, run_id, false).await
    }

    /// A run's near misses (pairs that break exactly one hard constraint) in rank order,
    /// leaving out clients the caller may not see.
    pub async fn near_misses(
        &self,
        caller: &Principal,
        run_id: Uuid,
    ) -> StoreResult<Vec<MatchRecommendation>> {
        self.ranked(caller, run_id, true).await
    }

    async fn ranked(
        &self,
        caller: &Principal,
        run_id: Uuid,
        near_miss: bool,
    ) -> StoreResult<Vec<MatchRecommendation>> {
        let rows: Vec<RecommendationRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                "SELECT r.id, r.run_id, r.rank, r.persona_id, r.property_id, r.score, r.detail
                 FROM match_recommendations r JOIN personas p ON p.id = r.persona_id
                 WHERE r.brokerage_id = $1 AND r.run_id = $4 AND r.near_miss = $5 AND ", visible_persona!(), " ORDER BY r.rank"))
                .bind(caller.brokerage_id)
                .bind(caller.user_id)
                .bind(caller.team_id)
                .bind(run_id)
                .bind(near_miss)
                .fetch_all(pool)
                .await
        })?;
        let feedback: Vec<FeedbackRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT f.id, f.recommendation_id, f.outcome, f.reason, f.created_by, f.created_at
                 FROM match_feedback f JOIN match_recommendations r ON r.id = f.recommendation_id
                 WHERE r.brokerage_id = $1 AND r.run_id = $2 ORDER BY f.id")
                .bind(caller.brokerage_id)
                .bind(run_id)
                .fetch_all(pool)
                .await
        })?;
        let mut by_recommendation: HashMap<Uuid, Vec<Feedback>> = HashMap::new();
        for row in feedback {
            let reason = self.open_reason(row.id, row.reason).await?;
            by_recommendation
                .entry(row.recommendation_id)
                .or_default()
                .push(Feedback {
                    id: row.id,
                    outcome: parse_column(
                        &row.outcome,
                        FeedbackOutcome::parse,
                        "match_feedback.outcome",
                    )?,
                    reason,
                    created_by: row.created_by,
                    created_at: row.created_at,
                });
        }
        let mut ranked = Vec::with_capacity(rows.len());
        for row in rows {
            let detail = match row.detail.0 {
                Value::String(sealed) => {
                    let text = self
                        .open_text(Purpose::MatchDetail, row.id, &sealed)
                        .await?;
                    serde_json::from_str(&text)
                }
                legacy => serde_json::from_value(legacy),
            }
            .map_err(|e| StoreError::Corrupt(format!("recommendation {}: {e}", row.id)))?;
            ranked.push(MatchRecommendation {
                feedback: by_recommendation.remove(&row.id).unwrap_or_default(),
                id: row.id,
                run_id: row.run_id,
                rank: row.rank,
                persona_id: row.persona_id,
                property_id: row.property_id,
                score: row.score,
                detail,
            });
        }
        Ok(ranked)
    }

    /// Records feedback on a recommendation whose client the caller may see; `None` when there
    /// is no such recommendation for them.
    pub async fn add_match_feedback(
        &self,
        caller: &Principal,
        recommendation_id: Uuid,
        outcome: FeedbackOutcome,
        reason: Option<&str>,
    ) -> StoreResult<Option<Feedback>> {
        let pair: Option<(Uuid, Uuid)> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                "SELECT r.persona_id, r.property_id FROM match_recommendations r JOIN personas p ON p.id = r.persona_id
                 WHERE r.brokerage_id = $1 AND r.id = $4 AND ", visible_persona!()))
                .bind(caller.brokerage_id)
                .bind(caller.user_id)
                .bind(caller.team_id)
                .bind(recommendation_id)
                .fetch_optional(pool)
                .await
        })?;
        let Some((persona_id, property_id)) = pair else {
            return Ok(None);
        };
        let feedback = Feedback {
            id: Uuid::now_v7(),
            outcome,
            reason: reason.map(str::to_owned),
            created_by: caller.user_id,
            created_at: Utc::now(),
        };
        // The client's reaction is intelligence about them: it joins the persona's enrichment
        // sources as a new version, in the same transaction.
        let source = serde_json::json!({
            "kind": "match_feedback",
            "outcome": outcome.as_str(),
            "reason": reason,
            "property_id": property_id,
            "recommendation_id": recommendation_id,
            "recorded_by": caller.user_id,
            "date": feedback.created_at,
        });
        let key = self.sealing_key().await?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO match_feedback (id, recommendation_id, brokerage_id, persona_id, property_id, created_by, outcome, reason, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(feedback.id)
                .bind(recommendation_id)
                .bind(caller.brokerage_id)
                .bind(persona_id)
                .bind(property_id)
                .bind(caller.user_id)
                .bind(outcome.as_str())
                .bind(feedback.reason.as_deref().map(|reason| seal_text(&key, Purpose::FeedbackReason, feedback.id, reason)))
                .bind(feedback.created_at)
                .execute(&mut *tx)
                .await?;
            let (Json(column), sealed): (Json<Value>, Option<Vec<u8>>) =
                sqlx::query_as("SELECT profile, sealed FROM personas WHERE brokerage_id = $1 AND id = $2")
                    .bind(caller.brokerage_id)
                    .bind(persona_id)
                    .fetch_one(&mut *tx)
                    .await?;
            let mut profile = self.open_typed_profile(persona_id, column, sealed.as_deref()).await?;
            // The profile holds a bounded list of sources: when it is full, the oldest feedback
            // entry makes room (every piece of feedback stays in match_feedback).
            let sources = &mut profile.enrichment_sources;
            let full = sources.len() >= MAX_ENRICHMENT_SOURCES;
            if let Some(oldest) = sources
                .iter()
                .position(|s| s["kind"] == "match_feedback")
                .filter(|_| full)
            {
                sources.remove(oldest);
            }
            if sources.len() < MAX_ENRICHMENT_SOURCES {
                sources.push(source);
            }
            let stored = seal_profile(&profile, &key, persona_id);
            sqlx::query("UPDATE personas SET profile = $2, sealed = $4, version = version + 1, updated_at = $3 WHERE id = $1 AND brokerage_id = $5")
                .bind(persona_id)
                .bind(&stored.public)
                .bind(feedback.created_at)
                .bind(&stored.sealed)
                .bind(caller.brokerage_id)
                .execute(&mut *tx)
                .await?;
            record_version!(tx, persona_id, caller.user_id, "feedback")?;
            tx.commit().await
        })?;
        Ok(Some(feedback))
    }

    /// Every piece of feedback in the brokerage, oldest first, for the scorer.
    pub async fn pair_feedback(&self, brokerage_id: Uuid) -> StoreResult<Vec<PairFeedback>> {
        let rows: Vec<(Uuid, Uuid, Uuid, String, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, persona_id, property_id, outcome, reason FROM match_feedback WHERE brokerage_id = $1 ORDER BY id")
                .bind(brokerage_id)
                .fetch_all(pool)
                .await
        })?;
        let mut pairs = Vec::with_capacity(rows.len());
        for (id, persona_id, property_id, outcome, reason) in rows {
            pairs.push(PairFeedback {
                persona_id,
                property_id,
                outcome: parse_column(&outcome, FeedbackOutcome::parse, "match_feedback.outcome")?,
                reason: self.open_reason(id, reason).await?,
            });
        }
        Ok(pairs)
    }
}
