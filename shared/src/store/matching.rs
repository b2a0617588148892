//! Match runs, their recommendations, brokers' feedback, the nightly run's last scores, and the
//! text embeddings matching reuses.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    BeginWrite, IdempotencyKey, KeyClaim, Store, StoreError, StoreResult, Submitted,
    claim_idempotency_key, events::record_event, fetch_by_ids, is_unique_violation, parse_column,
    with_pool,
};
use crate::{
    auth::Principal,
    domain::{
        Feedback, FeedbackOutcome, MatchDetail, MatchDirection, MatchParams, MatchRecommendation,
        MatchRun, MatchRunStatus, PersonaProfile,
    },
};

macro_rules! run_columns {
    () => {
        "id, direction, subject_id, status, params, slot, pairs_scored, error, created_at, completed_at"
    };
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: Uuid,
    direction: String,
    subject_id: Option<Uuid>,
    status: String,
    params: Json<MatchParams>,
    slot: Option<DateTime<Utc>>,
    pairs_scored: i64,
    error: Option<String>,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl TryFrom<RunRow> for MatchRun {
    type Error = super::StoreError;

    fn try_from(row: RunRow) -> StoreResult<MatchRun> {
        Ok(MatchRun {
            id: row.id,
            direction: parse_column(
                &row.direction,
                MatchDirection::parse,
                "match_runs.direction",
            )?,
            subject_id: row.subject_id,
            status: parse_column(&row.status, MatchRunStatus::parse, "match_runs.status")?,
            params: row.params.0,
            slot: row.slot,
            pairs_scored: row.pairs_scored,
            error: row.error,
            created_at: row.created_at,
            completed_at: row.completed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RecommendationRow {
    id: Uuid,
    run_id: Uuid,
    rank: i32,
    persona_id: Uuid,
    property_id: Uuid,
    score: f64,
    detail: Json<MatchDetail>,
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

/// A ranked match a run found.
pub struct NewRecommendation {
    pub persona_id: Uuid,
    pub property_id: Uuid,
    pub score: f64,
    pub detail: MatchDetail,
}

/// What the nightly run learned: the pairs it scored are those of `personas` and `properties`
/// (every pair involving one of them); `scores` are those of them now above the threshold.
pub struct NightlyScores {
    pub personas: Vec<Uuid>,
    pub properties: Vec<Uuid>,
    pub scores: Vec<(Uuid, Uuid, f64)>,
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
/// Rows per multi-row INSERT (9 parameters a row stays well inside both databases' limits).
const INSERT_BATCH: usize = 500;

/// Visible to `$2` (user) in team `$3`, on a table aliased `p`.
macro_rules! visible_persona {
    () => {
        "(p.visibility = 'brokerage' OR p.owner_user_id = $2 OR (p.visibility = 'team' AND p.team_id = $3))"
    };
}

impl Store {
    /// Creates a brokerage's nightly run for `slot`; a second run for the same brokerage and
    /// slot (a scheduler replica, a restart) is refused with `None`.
    pub async fn create_nightly_run(
        &self,
        brokerage_id: Uuid,
        params: &MatchParams,
        slot: DateTime<Utc>,
    ) -> StoreResult<Option<MatchRun>> {
        let row: Option<RunRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                "INSERT INTO match_runs (id, brokerage_id, direction, params, status, slot, created_at)
                 VALUES ($1, $2, 'nightly', $3, 'pending', $4, $5)
                 ON CONFLICT (brokerage_id, slot) WHERE slot IS NOT NULL DO NOTHING RETURNING ", run_columns!()))
            .bind(Uuid::now_v7())
            .bind(brokerage_id)
            .bind(Json(params))
            .bind(slot)
            .bind(Utc::now())
            .fetch_optional(pool)
            .await
        })?;
        row.map(MatchRun::try_from).transpose()
    }

    /// Creates a run a caller asked for, or with an idempotency key, returns what the key created.
    pub async fn submit_match_run(
        &self,
        caller: &Principal,
        direction: MatchDirection,
        subject_id: Uuid,
        params: &MatchParams,
        idempotency: Option<&IdempotencyKey>,
    ) -> StoreResult<Submitted<MatchRun>> {
        // The loser of two concurrent requests with one key hits the key's primary key; once
        // more, it finds the winner's run.
        match self
            .try_submit_match_run(caller, direction, subject_id, params, idempotency)
            .await
        {
            Err(StoreError::Database(e)) if is_unique_violation(&e) && idempotency.is_some() => {
                self.try_submit_match_run(caller, direction, subject_id, params, idempotency)
                    .await
            }
            other => other,
        }
    }

    async fn try_submit_match_run(
        &self,
        caller: &Principal,
        direction: MatchDirection,
        subject_id: Uuid,
        params: &MatchParams,
        idempotency: Option<&IdempotencyKey>,
    ) -> StoreResult<Submitted<MatchRun>> {
        let id = Uuid::now_v7();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if let Some(key) = idempotency {
                match claim_idempotency_key!(tx, caller.brokerage_id, key, id, "match_runs") {
                    KeyClaim::Claimed => {}
                    KeyClaim::Reused => return Ok(Submitted::KeyReused),
                    KeyClaim::Replay(existing) => {
                        let row: RunRow = sqlx::query_as(concat!("SELECT ", run_columns!(), " FROM match_runs WHERE id = $1"))
                            .bind(existing)
                            .fetch_one(&mut *tx)
                            .await?;
                        return Ok(Submitted::Replayed(row.try_into()?));
                    }
                }
            }
            let row: RunRow = sqlx::query_as(concat!(
                "INSERT INTO match_runs (id, brokerage_id, created_by, direction, subject_id, params, status, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) RETURNING ", run_columns!()))
                .bind(id)
                .bind(caller.brokerage_id)
                .bind(caller.user_id)
                .bind(direction.as_str())
                .bind(subject_id)
                .bind(Json(params))
                .bind(Utc::now())
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Submitted::Created(row.try_into()?))
        })
    }

    pub async fn get_match_run(
        &self,
        brokerage_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<MatchRun>> {
        let row: Option<RunRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", run_columns!(), " FROM match_runs WHERE brokerage_id = $1 AND id = $2"))
                .bind(brokerage_id)
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(MatchRun::try_from).transpose()
    }

    /// The brokerage's runs, newest first, optionally of one direction and older than `before`.
    pub async fn list_match_runs(
        &self,
        brokerage_id: Uuid,
        direction: Option<MatchDirection>,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<MatchRun>> {
        let rows: Vec<RunRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", run_columns!(), " FROM match_runs
                 WHERE brokerage_id = $1 AND ($2 IS NULL OR direction = $2) AND ($3 IS NULL OR id < $3)
                 ORDER BY id DESC LIMIT $4"))
                .bind(brokerage_id)
                .bind(direction.map(MatchDirection::as_str))
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(MatchRun::try_from).collect()
    }

    /// Marks a run as running and counts the attempt; `None` when it is already final (a
    /// redelivered job has nothing to do).
    pub async fn start_match_run(&self, id: Uuid) -> StoreResult<Option<(MatchRun, i32)>> {
        #[derive(sqlx::FromRow)]
        struct Started {
            #[sqlx(flatten)]
            run: RunRow,
            attempts: i32,
        }
        let row: Option<Started> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                "UPDATE match_runs SET status = 'running', attempts = attempts + 1, started_at = $2
                 WHERE id = $1 AND status IN ('pending', 'running') RETURNING attempts, ", run_columns!()))
                .bind(id)
                .bind(Utc::now())
                .fetch_optional(pool)
                .await
        })?;
        row.map(|r| Ok((MatchRun::try_from(r.run)?, r.attempts)))
            .transpose()
    }

    /// The start of the brokerage's last completed nightly run: what changed after it is what
    /// the next one re-matches.
    pub async fn last_nightly_start(
        &self,
        brokerage_id: Uuid,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT started_at FROM match_runs WHERE brokerage_id = $1 AND direction = 'nightly'
                   AND status = 'completed' ORDER BY slot DESC LIMIT 1")
                .bind(brokerage_id)
                .fetch_optional(pool)
                .await
        })?
        .flatten())
    }

    /// Stores a run's ranked recommendations, completes it and records its `matching.completed`
    /// event, in one transaction; a run that another delivery of the same job completed first
    /// keeps that result (returns `false`).
    pub async fn complete_match_run(
        &self,
        run_id: Uuid,
        brokerage_id: Uuid,
        pairs_scored: i64,
        recommendations: &[NewRecommendation],
        nightly: Option<&NightlyScores>,
    ) -> StoreResult<bool> {
        let started = Utc::now();
        let matches: Vec<Value> = recommendations
            .iter()
            .enumerate()
            .map(|(rank, rec)| {
                serde_json::json!({
                    "rank": rank + 1, "persona_id": rec.persona_id, "property_id": rec.property_id,
                    "score": rec.score, "change": rec.detail.change,
                })
            })
            .collect();
        let payload = serde_json::json!({ "run_id": run_id, "pairs_scored": pairs_scored, "matches": matches });
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let won = sqlx::query(
                "UPDATE match_runs SET status = 'completed', pairs_scored = $2, completed_at = $3, error = NULL
                 WHERE id = $1 AND status <> 'completed'")
                .bind(run_id)
                .bind(pairs_scored)
                .bind(started)
                .execute(&mut *tx)
                .await?
                .rows_affected() == 1;
            if !won {
                return Ok(false);
            }
            // Many rows, few statements: each statement is a round trip to the database.
            for (chunk_index, chunk) in recommendations.chunks(INSERT_BATCH).enumerate() {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO match_recommendations (id, run_id, brokerage_id, persona_id, property_id, rank, score, detail, created_at) ");
                insert.push_values(chunk.iter().enumerate(), |mut row, (i, rec)| {
                    let rank = (chunk_index * INSERT_BATCH + i + 1) as i32;
                    row.push_bind(Uuid::now_v7())
                        .push_bind(run_id)
                        .push_bind(brokerage_id)
                        .push_bind(rec.persona_id)
                        .push_bind(rec.property_id)
                        .push_bind(rank)
                        .push_bind(rec.score)
                        .push_bind(Json(&rec.detail))
                        .push_bind(started);
                });
                insert.build().execute(&mut *tx).await?;
            }
            if let Some(nightly) = nightly {
                for (column, ids) in [("persona_id", &nightly.personas), ("property_id", &nightly.properties)] {
                    for chunk in ids.chunks(INSERT_BATCH) {
                        let mut delete = sqlx::QueryBuilder::new(format!("DELETE FROM match_scores WHERE {column} IN ("));
                        let mut list = delete.separated(", ");
                        for id in chunk {
                            list.push_bind(*id);
                        }
                        delete.push(")").build().execute(&mut *tx).await?;
                    }
                }
                for chunk in nightly.scores.chunks(INSERT_BATCH) {
                    let mut insert = sqlx::QueryBuilder::new(
                        "INSERT INTO match_scores (persona_id, property_id, brokerage_id, score) ");
                    insert.push_values(chunk, |mut row, (persona_id, property_id, score)| {
                        row.push_bind(*persona_id)
                            .push_bind(*property_id)
                            .push_bind(brokerage_id)
                            .push_bind(*score);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
            }
            record_event!(tx, brokerage_id, "matching.completed", run_id, &payload)?;
            // Completed when the results are in, not when writing them began.
            sqlx::query("UPDATE match_runs SET completed_at = $2 WHERE id = $1")
                .bind(run_id)
                .bind(Utc::now())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    pub async fn fail_match_run(&self, run_id: Uuid, reason: &str) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE match_runs SET status = 'failed', error = $2, completed_at = $3 WHERE id = $1 AND status <> 'completed'")
                .bind(run_id)
                .bind(reason)
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(drop)
        })?;
        Ok(())
    }

    /// The nightly run's last scores of the pairs involving a client or listing changed after
    /// `since` (every pair without it).
    pub async fn nightly_scores(
        &self,
        brokerage_id: Uuid,
        since: Option<DateTime<Utc>>,
    ) -> StoreResult<HashMap<(Uuid, Uuid), f64>> {
        let rows: Vec<(Uuid, Uuid, f64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT persona_id, property_id, score FROM match_scores WHERE brokerage_id = $1 AND ($2 IS NULL
                   OR persona_id IN (SELECT id FROM personas WHERE brokerage_id = $1 AND updated_at > $2)
                   OR property_id IN (SELECT id FROM properties WHERE brokerage_id = $1 AND updated_at > $2))")
                .bind(brokerage_id)
                .bind(since)
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(|(a, b, s)| ((a, b), s)).collect())
    }

    /// A run's recommendations in rank order, leaving out clients the caller may not see.
    pub async fn recommendations(
        &self,
        caller: &Principal,
        run_id: Uuid,
    ) -> StoreResult<Vec<MatchRecommendation>> {
        let rows: Vec<RecommendationRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                "SELECT r.id, r.run_id, r.rank, r.persona_id, r.property_id, r.score, r.detail
                 FROM match_recommendations r JOIN personas p ON p.id = r.persona_id
                 WHERE r.brokerage_id = $1 AND r.run_id = $4 AND ", visible_persona!(), " ORDER BY r.rank"))
                .bind(caller.brokerage_id)
                .bind(caller.user_id)
                .bind(caller.team_id)
                .bind(run_id)
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
                    reason: row.reason,
                    created_by: row.created_by,
                    created_at: row.created_at,
                });
        }
        Ok(rows
            .into_iter()
            .map(|row| MatchRecommendation {
                feedback: by_recommendation.remove(&row.id).unwrap_or_default(),
                id: row.id,
                run_id: row.run_id,
                rank: row.rank,
                persona_id: row.persona_id,
                property_id: row.property_id,
                score: row.score,
                detail: row.detail.0,
            })
            .collect())
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
                .bind(&feedback.reason)
                .bind(feedback.created_at)
                .execute(&mut *tx)
                .await?;
            let profile: Json<PersonaProfile> = sqlx::query_scalar("SELECT profile FROM personas WHERE id = $1")
                .bind(persona_id)
                .fetch_one(&mut *tx)
                .await?;
            let mut profile = profile.0;
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
            sqlx::query("UPDATE personas SET profile = $2, version = version + 1, updated_at = $3 WHERE id = $1")
                .bind(persona_id)
                .bind(Json(&profile))
                .bind(feedback.created_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })?;
        Ok(Some(feedback))
    }

    /// Every piece of feedback in the brokerage, oldest first, for the scorer.
    pub async fn pair_feedback(&self, brokerage_id: Uuid) -> StoreResult<Vec<PairFeedback>> {
        let rows: Vec<(Uuid, Uuid, String, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT persona_id, property_id, outcome, reason FROM match_feedback WHERE brokerage_id = $1 ORDER BY id")
                .bind(brokerage_id)
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter()
            .map(|(persona_id, property_id, outcome, reason)| {
                Ok(PairFeedback {
                    persona_id,
                    property_id,
                    outcome: parse_column(
                        &outcome,
                        FeedbackOutcome::parse,
                        "match_feedback.outcome",
                    )?,
                    reason,
                })
            })
            .collect()
    }

    /// (id, version, last change) of the real clients a match may include: those `caller` may
    /// see, or all of the brokerage's.
    pub async fn client_versions(
        &self,
        brokerage_id: Uuid,
        caller: Option<(Uuid, Option<Uuid>)>,
    ) -> StoreResult<Vec<(Uuid, i64, DateTime<Utc>)>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(concat!(
                "SELECT p.id, p.version, p.updated_at FROM personas p WHERE p.brokerage_id = $1 AND NOT p.synthetic
                   AND ($4 OR ", visible_persona!(), ") ORDER BY p.id"))
                .bind(brokerage_id)
                .bind(caller.map(|c| c.0))
                .bind(caller.and_then(|c| c.1))
                .bind(caller.is_none())
                .fetch_all(pool)
                .await
        })?)
    }

    /// (id, last change) of the brokerage's active listings.
    pub async fn active_listing_versions(
        &self,
        brokerage_id: Uuid,
    ) -> StoreResult<Vec<(Uuid, DateTime<Utc>)>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as("SELECT id, updated_at FROM properties WHERE brokerage_id = $1 AND status = 'active' ORDER BY id")
                .bind(brokerage_id)
                .fetch_all(pool)
                .await
        })?)
    }

    /// Stored embeddings of these subjects under `model`: subject → (text hash, vector).
    pub async fn embeddings(
        &self,
        brokerage_id: Uuid,
        model: &str,
        subjects: &[Uuid],
    ) -> StoreResult<HashMap<Uuid, (String, Vec<f32>)>> {
        let rows: Vec<(Uuid, String, Vec<u8>)> = with_pool!(self, pool => fetch_by_ids!(
            pool, (Uuid, String, Vec<u8>), subjects,
            "SELECT subject_id, text_hash, vector FROM embeddings WHERE subject_id IN (",
            |q| {
                q.push(" AND brokerage_id = ").push_bind(brokerage_id);
                q.push(" AND model = ").push_bind(model);
            }
        ));
        Ok(rows
            .into_iter()
            .map(|(id, hash, bytes)| {
                let vector = bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                (id, (hash, vector))
            })
            .collect())
    }

    /// Stores (or replaces) embeddings: (subject, text hash, vector).
    pub async fn save_embeddings(
        &self,
        brokerage_id: Uuid,
        model: &str,
        embeddings: &[(Uuid, String, Vec<f32>)],
    ) -> StoreResult<()> {
        if embeddings.is_empty() {
            return Ok(());
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for chunk in embeddings.chunks(INSERT_BATCH) {
                let mut upsert = sqlx::QueryBuilder::new(
                    "INSERT INTO embeddings (subject_id, brokerage_id, model, text_hash, vector) ");
                upsert.push_values(chunk, |mut row, (id, hash, vector)| {
                    let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
                    row.push_bind(*id)
                        .push_bind(brokerage_id)
                        .push_bind(model)
                        .push_bind(hash)
                        .push_bind(bytes);
                });
                upsert.push(" ON CONFLICT (subject_id) DO UPDATE SET model = excluded.model, text_hash = excluded.text_hash, vector = excluded.vector");
                upsert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        })?;
        Ok(())
    }

    pub async fn brokerage_id(&self, name: &str) -> StoreResult<Option<Uuid>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT id FROM brokerages WHERE name = $1").bind(name).fetch_optional(pool).await
        })?)
    }

    /// Every brokerage, for the nightly schedule.
    pub async fn brokerage_ids(&self) -> StoreResult<Vec<Uuid>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT id FROM brokerages ORDER BY id").fetch_all(pool).await
        })?)
    }
}
