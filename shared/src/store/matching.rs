//! Match runs: creating them (on demand, with idempotency keys, or one per nightly slot),
//! completing them with their recommendations and outbox event, and what the nightly run
//! compares against (its last scores, the versions of clients and listings).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    BeginWrite, INSERT_BATCH, IdempotencyKey, KeyClaim, Pool, Store, StoreError, StoreResult,
    Submitted, claim_idempotency_key, events::record_event, fetch_by_ids, is_unique_violation,
    job_requests::record_job, keys::seal_text, parse_column, visible_persona, with_pool,
};
use crate::{
    auth::Principal,
    crypto::Purpose,
    domain::{MatchDetail, MatchDirection, MatchParams, MatchRun, MatchRunStatus},
    jobs::MatchingJob,
};

macro_rules! run_columns {
    () => {
        "id, direction, subject_id, status, params, slot, pairs_scored, error, created_at, completed_at"
    };
}

/// Whether the `match_runs` row is seen by the caller whose user id is bound at `$user` and team
/// at `$team`: a listing's run and the nightly run by the whole brokerage (their
/// recommendations leave out the clients the caller does not see), a client's run only by who
/// sees the client.
macro_rules! run_visible {
    (user = $user:literal, team = $team:literal) => {
        concat!(
            "(match_runs.direction <> 'client_to_properties' OR EXISTS (SELECT 1 FROM personas p
               WHERE p.id = match_runs.subject_id AND p.brokerage_id = match_runs.brokerage_id AND ",
            super::visible_to!("p", user = $user, team = $team),
            "))"
        )
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
    type Error = StoreError;

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

impl Store {
    /// Creates a brokerage's nightly run for `slot`, with its job request; a second run for the
    /// same brokerage and slot (a scheduler replica, a restart) is refused with `None`.
    pub async fn create_nightly_run(
        &self,
        brokerage_id: Uuid,
        params: &MatchParams,
        slot: DateTime<Utc>,
    ) -> StoreResult<Option<(MatchRun, super::JobRequest)>> {
        let created: Option<(RunRow, super::JobRequest)> = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<RunRow> = sqlx::query_as(concat!(
                "INSERT INTO match_runs (id, brokerage_id, direction, params, status, slot, created_at)
                 VALUES ($1, $2, 'nightly', $3, 'pending', $4, $5)
                 ON CONFLICT (brokerage_id, slot) WHERE slot IS NOT NULL DO NOTHING RETURNING ", run_columns!()))
            .bind(Uuid::now_v7())
            .bind(brokerage_id)
            .bind(Json(params))
            .bind(slot)
            .bind(Utc::now())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let request = record_job!(tx, brokerage_id, MatchingJob, row.id)?;
            tx.commit().await?;
            Some((row, request))
        });
        created
            .map(|(row, request)| Ok((MatchRun::try_from(row)?, request)))
            .transpose()
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
            let request = record_job!(tx, caller.brokerage_id, MatchingJob, id)?;
            tx.commit().await?;
            Ok(Submitted::Created(row.try_into()?, request))
        })
    }

    /// Any of the brokerage's runs, by id: for the service itself (the command line's nightly
    /// run); callers read runs through [`Store::match_run_for`].
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

    /// A run the caller sees ([`run_visible!`]), by id.
    pub async fn match_run_for(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> StoreResult<Option<MatchRun>> {
        let row: Option<RunRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", run_columns!(), " FROM match_runs
                 WHERE brokerage_id = $1 AND id = $2 AND ", run_visible!(user = "$3", team = "$4")))
                .bind(caller.brokerage_id)
                .bind(id)
                .bind(caller.user_id)
                .bind(caller.team_id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(MatchRun::try_from).transpose()
    }

    /// The runs the caller sees, newest first, optionally of one direction and older than
    /// `before`.
    pub async fn list_match_runs(
        &self,
        caller: &Principal,
        direction: Option<MatchDirection>,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<MatchRun>> {
        let rows: Vec<RunRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", run_columns!(), " FROM match_runs
                 WHERE brokerage_id = $1 AND ($2 IS NULL OR direction = $2) AND ($3 IS NULL OR id < $3)
                   AND ", run_visible!(user = "$5", team = "$6"), "
                 ORDER BY id DESC LIMIT $4"))
                .bind(caller.brokerage_id)
                .bind(direction.map(MatchDirection::as_str))
                .bind(before)
                .bind(i64::from(limit))
                .bind(caller.user_id)
                .bind(caller.team_id)
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(MatchRun::try_from).collect()
    }

    /// The newest run the caller sees about one listing or client (`subject_id`), if any.
    pub async fn latest_match_run_about(
        &self,
        caller: &Principal,
        subject_id: Uuid,
    ) -> StoreResult<Option<MatchRun>> {
        let row: Option<RunRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", run_columns!(), " FROM match_runs
                 WHERE brokerage_id = $1 AND subject_id = $2 AND ", run_visible!(user = "$3", team = "$4"), "
                 ORDER BY id DESC LIMIT 1"))
                .bind(caller.brokerage_id)
                .bind(subject_id)
                .bind(caller.user_id)
                .bind(caller.team_id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(MatchRun::try_from).transpose()
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

    /// The `external_ids` of the brokerage's records with these ids, read by `head` (the query up
    /// to its id list; records without any are left out).
    async fn external_ids_of(
        &self,
        head: &'static str,
        brokerage_id: Uuid,
        ids: &[Uuid],
    ) -> StoreResult<HashMap<Uuid, Value>> {
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let rows: Vec<(Uuid, Option<Json<Value>>)> = with_pool!(self, pool => fetch_by_ids!(
            pool, (Uuid, Option<Json<Value>>), unique,
            head,
            |q| { q.push(" AND brokerage_id = ").push_bind(brokerage_id); }
        ));
        Ok(rows
            .into_iter()
            .filter_map(|(id, ids)| Some((id, ids?.0)))
            .collect())
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
        near_misses: &[NewRecommendation],
        nightly: Option<&NightlyScores>,
    ) -> StoreResult<bool> {
        let key = self.sealing_key().await?;
        let started = Utc::now();
        // Each match names the records' ids in other systems too, so a CRM flow acts on its own
        // records (a task on the Salesforce contact) without asking for each.
        let persona_ids: Vec<Uuid> = recommendations.iter().map(|r| r.persona_id).collect();
        let property_ids: Vec<Uuid> = recommendations.iter().map(|r| r.property_id).collect();
        let (persona_ids, property_ids) = (
            self.external_ids_of(
                "SELECT id, profile -> 'external_ids' FROM personas WHERE id IN (",
                brokerage_id,
                &persona_ids,
            )
            .await?,
            self.external_ids_of(
                "SELECT id, details -> 'external_ids' FROM properties WHERE id IN (",
                brokerage_id,
                &property_ids,
            )
            .await?,
        );
        let none = Value::Object(serde_json::Map::new());
        let matches: Vec<Value> = recommendations
            .iter()
            .enumerate()
            .map(|(rank, rec)| {
                serde_json::json!({
                    "rank": rank + 1, "persona_id": rec.persona_id, "property_id": rec.property_id,
                    "score": rec.score, "change": rec.detail.change,
                    "persona_external_ids": persona_ids.get(&rec.persona_id).unwrap_or(&none),
                    "property_external_ids": property_ids.get(&rec.property_id).unwrap_or(&none),
                })
            })
            .collect();
        let payload = serde_json::json!({
            "run_id": run_id, "nightly": nightly.is_some(), "pairs_scored": pairs_scored, "matches": matches,
            "near_misses": near_misses.len(),
        });
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
            // Many rows, few statements: each statement is a round trip to the database. Near
            // misses are ranked apart.
            for (near_miss, ranked) in [(false, recommendations), (true, near_misses)] {
                for (chunk_index, chunk) in ranked.chunks(INSERT_BATCH).enumerate() {
                    let mut insert = sqlx::QueryBuilder::new(
                        "INSERT INTO match_recommendations (id, run_id, brokerage_id, persona_id, property_id, rank, score, detail, created_at, near_miss) ");
                    insert.push_values(chunk.iter().enumerate(), |mut row, (i, rec)| {
                        let rank = (chunk_index * INSERT_BATCH + i + 1) as i32;
                        let id = Uuid::now_v7();
                        // The explanation names the client and quotes their wishes: sealed.
                        let detail = serde_json::to_string(&rec.detail).expect("details serialize");
                        row.push_bind(id)
                            .push_bind(run_id)
                            .push_bind(brokerage_id)
                            .push_bind(rec.persona_id)
                            .push_bind(rec.property_id)
                            .push_bind(rank)
                            .push_bind(rec.score)
                            .push_bind(Json(seal_text(&key, Purpose::MatchDetail, id, &detail)))
                            .push_bind(started)
                            .push_bind(near_miss);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
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
            // Completed when the results are in, not when writing them began.
            sqlx::query("UPDATE match_runs SET completed_at = $2 WHERE id = $1")
                .bind(run_id)
                .bind(Utc::now())
                .execute(&mut *tx)
                .await?;
            let notice = record_event!(tx, &key, brokerage_id, "matching.completed", run_id, &payload)?;
            tx.commit().await?;
            self.announce(&[notice]).await;
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

    /// (id, version, last change) of the real clients a match may include: those `caller` may
    /// see, or all of the brokerage's.
    pub async fn client_versions(
        &self,
        brokerage_id: Uuid,
        caller: Option<(Uuid, Option<Uuid>)>,
    ) -> StoreResult<Vec<(Uuid, i64, DateTime<Utc>)>> {
        macro_rules! clients {
            ($id:literal) => {
                concat!(
                    "SELECT ",
                    $id,
                    " AS id, p.version, p.updated_at FROM personas p
                     WHERE p.brokerage_id = $1 AND NOT p.synthetic AND p.deleted_at IS NULL AND ($4 OR ",
                    visible_persona!(),
                    ")
                     ORDER BY p.id"
                )
            };
        }
        let (user, team) = (caller.map(|c| c.0), caller.and_then(|c| c.1));
        match &self.pool {
            Pool::Postgres(pool) => Ok(sqlx::query_as(clients!("p.id"))
                .bind(brokerage_id)
                .bind(user)
                .bind(team)
                .bind(caller.is_none())
                .fetch_all(pool)
                .await?),
            // Every run reads every client's version, and SQLite's driver hands rows over one
            // at a time from its own thread, a wake-up each: here they come packed into one
            // JSON array (bench/matching.sh).
            Pool::Sqlite(pool) => {
                let packed: String = sqlx::query_scalar(concat!(
                    "SELECT json_group_array(json_array(id, version, updated_at)) FROM (",
                    clients!("hex(p.id)"),
                    ")"
                ))
                .bind(brokerage_id)
                .bind(user)
                .bind(team)
                .bind(caller.is_none())
                .fetch_one(pool)
                .await?;
                let rows: Vec<(String, i64, DateTime<Utc>)> = serde_json::from_str(&packed)
                    .map_err(|e| StoreError::Corrupt(format!("packed client versions: {e}")))?;
                rows.into_iter()
                    .map(|(id, version, at)| {
                        let id = Uuid::try_parse(&id).map_err(|e| {
                            StoreError::Corrupt(format!("packed client id {id:?}: {e}"))
                        })?;
                        Ok((id, version, at))
                    })
                    .collect()
            }
        }
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
}
