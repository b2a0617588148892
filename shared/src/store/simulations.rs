//! Simulations and their idempotency keys. Runs are fenced: a run claims the simulation with a
//! fresh token, and each of its writes only lands while that token is still the current one, so
//! a duplicate or recovered run can take over but two runs can never both write a result.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    BeginWrite, IdempotencyKey, KeyClaim, Store, StoreError, StoreResult, Submitted,
    claim_idempotency_key, erasure,
    events::record_event,
    is_unique_violation,
    job_requests::{
        DueJob, JobRequest, SUBMITTER_GRACE, hold_simulation, record_job, release_held,
    },
    outcomes::insert_predictions,
    parse_column, with_pool,
};
use crate::{
    auth::Principal,
    crypto::{Key, Purpose},
    domain::{
        Prediction, Progress, RunMetadata, Simulation, SimulationFilter, SimulationKind,
        SimulationPlan, SimulationResults, SimulationStatus,
    },
    jobs::{RequestedJob, SimulationJob},
};

/// What claiming a simulation reads: attempts, submitter, plan, kind, total steps, sealed notes.
type Claimed = (i32, Uuid, Json<Value>, String, i64, Option<Vec<u8>>);

macro_rules! columns {
    () => {
        "id, brokerage_id, created_by, kind, status, progress_done, progress_failed, progress_total, error, attempts, created_at, started_at, completed_at, property_id, summary, cancel_requested_at, warnings"
    };
}

/// Whether the caller ($2 user, $3 team) may see every stored persona a simulation names: only
/// then may they read it (status, results, events). Synthetic personas are the brokerage's; an
/// erased persona's row is gone with it, and a deleted one's answers are cut out when the run is
/// read (see [`Store::deleted_participants`]). `COALESCE`: a `NULL` team must not read as
/// "visible".
macro_rules! visible_simulation {
    () => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM simulation_personas sp JOIN personas p ON p.id = sp.persona_id
                     WHERE sp.simulation_id = simulations.id AND p.deleted_at IS NULL AND NOT COALESCE(",
            super::visible_to!("p", user = "$2", team = "$3"),
            ", FALSE))"
        )
    };
}
pub(super) use visible_simulation;

pub struct NewSimulation {
    pub plan: SimulationPlan,
    pub idempotency: Option<IdempotencyKey>,
    /// Simulations the brokerage may have waiting or running, this one included.
    pub active_limit: u32,
}

/// What a running simulation hears back when it reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressAck {
    Continue,
    /// Someone asked it to stop: it finishes the round under way, then ends `cancelled`.
    StopRequested,
    /// Another run holds the simulation now (or it has finished): this run stops, writing nothing.
    Superseded,
}

/// A run's last progress: its steps (done, failed) and the answers given since its last report,
/// written with its result rather than in a write of their own.
#[derive(Debug, Clone, Copy)]
pub struct LastProgress<'a> {
    pub steps: (i64, i64),
    pub news: Option<&'a [Value]>,
}

/// A `simulation.progress` event's payload.
fn progress_payload(
    id: Uuid,
    kind: &str,
    (done, failed): (i64, i64),
    total: i64,
    answers: &[Value],
) -> Value {
    serde_json::json!({
        "simulation_id": id, "type": kind, "done": done, "failed": failed, "total": total,
        "answers": answers,
    })
}

/// The outcome of a worker asking to run a simulation.
pub enum Claim {
    /// Run it; every write of this run carries `token`.
    Run {
        token: Uuid,
        attempt: i32,
        /// The user who submitted it (synthetic personas drawn for it are theirs).
        created_by: Uuid,
        plan: Value,
        /// The brokerage's held simulation this start let into the queue: the claimer pushes it.
        released: Option<(SimulationJob, JobRequest)>,
    },
    /// Already completed, failed or cancelled: nothing to do.
    Finished(SimulationStatus),
    /// It has been started `max_attempts` times (crashed workers) and is now failed.
    GaveUp,
    /// Deleted, or never existed.
    Missing,
}

#[derive(sqlx::FromRow)]
struct SimulationRow {
    id: Uuid,
    brokerage_id: Uuid,
    created_by: Uuid,
    kind: String,
    status: String,
    progress_done: i64,
    progress_failed: i64,
    progress_total: i64,
    error: Option<String>,
    attempts: i32,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    property_id: Option<Uuid>,
    summary: Option<String>,
    cancel_requested_at: Option<DateTime<Utc>>,
    warnings: Json<Vec<String>>,
}

impl TryFrom<SimulationRow> for Simulation {
    type Error = StoreError;

    fn try_from(row: SimulationRow) -> StoreResult<Simulation> {
        Ok(Simulation {
            id: row.id,
            brokerage_id: row.brokerage_id,
            created_by: row.created_by,
            kind: parse_column(&row.kind, SimulationKind::parse, "simulations.kind")?,
            status: parse_column(&row.status, SimulationStatus::parse, "simulations.status")?,
            progress: Progress {
                done: row.progress_done,
                failed: row.progress_failed,
                total: row.progress_total,
            },
            error: row.error,
            attempts: row.attempts,
            created_at: row.created_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
            property_id: row.property_id,
            summary: row.summary,
            cancel_requested_at: row.cancel_requested_at,
            warnings: row.warnings.0,
        })
    }
}

/// A simulation with what it was asked to do and what it produced.
pub struct SimulationRecord {
    pub simulation: Simulation,
    pub plan: SimulationPlan,
    pub results: Option<SimulationResults>,
    pub metadata: Option<RunMetadata>,
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    #[sqlx(flatten)]
    simulation: SimulationRow,
    plan: Json<SimulationPlan>,
    sealed_enrichment: Option<Vec<u8>>,
    results: Option<Json<Value>>,
    sealed_results: Option<Vec<u8>>,
    metadata: Option<Json<RunMetadata>>,
}

/// A run's results sealed for storage, bound to simulation `id`.
pub(super) fn seal_results(key: &Key, id: Uuid, results: &SimulationResults) -> Vec<u8> {
    let plain = serde_json::to_vec(results).expect("results serialize");
    key.seal(Purpose::SimulationResults, id, &plain)
}

impl Store {
    /// A run's stored results as JSON: sealed, or (rows of earlier releases) in `results`.
    pub(super) async fn open_results(
        &self,
        id: Uuid,
        plain: Option<Json<Value>>,
        sealed: Option<&[u8]>,
    ) -> StoreResult<Option<Value>> {
        match sealed {
            Some(sealed) => self
                .open_json(Purpose::SimulationResults, id, sealed)
                .await
                .map(Some),
            None => Ok(plain.map(|p| p.0)),
        }
    }
}

impl Store {
    /// Creates a pending simulation, or with an idempotency key, returns what the key created.
    pub async fn create_simulation(
        &self,
        caller: &Principal,
        new: NewSimulation,
    ) -> StoreResult<Submitted<Simulation>> {
        // Two concurrent requests with one key: the loser's insert hits the key's primary key,
        // and the retry then finds the winner's simulation.
        match self.try_create_simulation(caller, &new).await {
            Err(StoreError::Database(e))
                if is_unique_violation(&e) && new.idempotency.is_some() =>
            {
                self.try_create_simulation(caller, &new).await
            }
            other => other,
        }
    }

    async fn try_create_simulation(
        &self,
        caller: &Principal,
        new: &NewSimulation,
    ) -> StoreResult<Submitted<Simulation>> {
        let now = Utc::now();
        let id = Uuid::now_v7();
        // Notes for an individual run are sealed apart from the plan.
        let mut plan = new.plan.clone();
        let notes = match &mut plan {
            SimulationPlan::Individual(individual) => individual.enrichment_data.take(),
            _ => None,
        };
        let sealed = match notes {
            Some(notes) => {
                let plain = serde_json::to_vec(&notes).expect("JSON values serialize");
                Some(
                    self.sealing_key()
                        .await?
                        .seal(Purpose::SimulationNotes, id, &plain),
                )
            }
            None => None,
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if let Some(key) = &new.idempotency {
                match claim_idempotency_key!(tx, caller.brokerage_id, key, id, "simulations") {
                    KeyClaim::Claimed => {}
                    KeyClaim::Reused => return Ok(Submitted::KeyReused),
                    KeyClaim::Replay(existing) => {
                        let row: SimulationRow = sqlx::query_as(concat!("SELECT ", columns!(), " FROM simulations WHERE id = $1"))
                            .bind(existing)
                            .fetch_one(&mut *tx)
                            .await?;
                        return Ok(Submitted::Replayed(row.try_into()?));
                    }
                }
            }
            // Admission: one brokerage's flood waits at its door, not in everyone's queue. Under
            // concurrent submits PostgreSQL may let in one per concurrent request too many.
            let active: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM simulations WHERE brokerage_id = $1 AND status IN ('pending', 'running')")
                .bind(caller.brokerage_id)
                .fetch_one(&mut *tx)
                .await?;
            if active >= i64::from(new.active_limit) {
                return Ok(Submitted::AtCapacity(active.max(0) as u64));
            }
            let row: SimulationRow = sqlx::query_as(concat!("INSERT INTO simulations (id, brokerage_id, created_by, kind, status, plan, progress_total, created_at, sealed_enrichment, property_id, warnings)
                 VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10) RETURNING ", columns!()))
            .bind(id).bind(caller.brokerage_id).bind(caller.user_id).bind(new.plan.kind().as_str())
            .bind(Json(&plan)).bind(i64::try_from(new.plan.agent_steps()).unwrap_or(i64::MAX)).bind(now)
            .bind(sealed).bind(new.plan.property_id()).bind(Json(new.plan.warnings()))
            .fetch_one(&mut *tx).await?;
            let participants = new.plan.stored_persona_ids();
            for chunk in participants.chunks(super::INSERT_BATCH) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO simulation_personas (simulation_id, persona_id, brokerage_id) ");
                insert.push_values(chunk, |mut row, persona_id| {
                    row.push_bind(id).push_bind(*persona_id).push_bind(caller.brokerage_id);
                });
                insert.build().execute(&mut *tx).await?;
            }
            let held = hold_simulation!(tx, caller.brokerage_id, self.queue_share)?;
            let request = record_job!(tx, caller.brokerage_id, SimulationJob, id, held)?;
            tx.commit().await?;
            Ok(Submitted::Created(row.try_into()?, request))
        })
    }

    pub async fn get_simulation(
        &self,
        brokerage_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<Simulation>> {
        let row: Option<SimulationRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM simulations WHERE brokerage_id = $1 AND id = $2"))
                .bind(brokerage_id)
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(Simulation::try_from).transpose()
    }

    /// The simulations matching `filter` that the caller may see, newest first; `limit + 1`
    /// rows.
    pub async fn list_simulations(
        &self,
        caller: &Principal,
        filter: &SimulationFilter,
    ) -> StoreResult<Vec<Simulation>> {
        // One listing's runs are read through the (brokerage, listing, id) index; spelled
        // `$7 IS NULL OR …`, the condition would keep SQLite from using it.
        macro_rules! list {
            ($listing:literal) => {
                concat!("SELECT ", columns!(), " FROM simulations
                 WHERE brokerage_id = $1 AND ", $listing, " AND ", visible_simulation!(), " AND ($4 IS NULL OR id < $4)
                   AND ($5 IS NULL OR kind = $5) AND ($6 IS NULL OR status = $6)
                   AND ($8 IS NULL OR created_by = $8) AND ($9 IS NULL OR created_at >= $9)
                   AND ($10 IS NULL OR id IN (SELECT simulation_id FROM simulation_personas
                                              WHERE brokerage_id = $1 AND persona_id = $10))
                 ORDER BY id DESC LIMIT $11")
            };
        }
        let query = match filter.property_id {
            Some(_) => list!("property_id = $7"),
            None => list!("$7 IS NULL"),
        };
        let rows: Vec<SimulationRow> = with_pool!(self, pool => {
            sqlx::query_as(query)
                .bind(caller.brokerage_id)
                .bind(caller.user_id)
                .bind(caller.team_id)
                .bind(filter.before)
                .bind(filter.kind.map(SimulationKind::as_str))
                .bind(filter.status.map(SimulationStatus::as_str))
                .bind(filter.property_id)
                .bind(filter.created_by)
                .bind(filter.since)
                .bind(filter.persona_id)
                .bind(i64::from(filter.limit) + 1)
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(Simulation::try_from).collect()
    }

    /// A simulation the caller may see (every stored persona in it is visible to them).
    pub async fn simulation_for(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> StoreResult<Option<Simulation>> {
        let row: Option<SimulationRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM simulations
                 WHERE brokerage_id = $1 AND id = $4 AND ", visible_simulation!()))
                .bind(caller.brokerage_id)
                .bind(caller.user_id)
                .bind(caller.team_id)
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(Simulation::try_from).transpose()
    }

    /// A simulation the caller may see, with its plan (sealed notes opened) and results.
    pub async fn simulation_record(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> StoreResult<Option<SimulationRecord>> {
        let row: Option<RecordRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), ", plan, sealed_enrichment, results, sealed_results, metadata FROM simulations
                 WHERE brokerage_id = $1 AND id = $4 AND ", visible_simulation!()))
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(caller.team_id)
            .bind(id)
            .fetch_optional(pool)
            .await
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut plan = row.plan.0;
        if let (SimulationPlan::Individual(individual), Some(sealed)) =
            (&mut plan, &row.sealed_enrichment)
        {
            individual.enrichment_data =
                Some(self.open_json(Purpose::SimulationNotes, id, sealed).await?);
        }
        let mut results = self
            .open_results(id, row.results, row.sealed_results.as_deref())
            .await?;
        // Deleted clients waiting for erasure read as erased ones will: their answers, notes
        // and names cut out, the rest of the run as it was.
        let deleted = self.deleted_participants(caller.brokerage_id, id).await?;
        if !deleted.is_empty() {
            let mut document = serde_json::to_value(&plan).expect("plans serialize");
            for (persona, name) in &deleted {
                let persona = persona.to_string();
                if let Some(results) = results.as_mut() {
                    erasure::redact(results, &persona, name);
                }
                erasure::redact(&mut document, &persona, name);
            }
            // A run about a deleted client alone (its `persona_id` now no one's): the notes
            // passed with it were about them.
            if document["persona_id"] == Value::String(Uuid::nil().to_string()) {
                document["enrichment_data"] = Value::Null;
            }
            plan = serde_json::from_value(document)
                .map_err(|e| StoreError::Corrupt(format!("plan of simulation {id}: {e}")))?;
        }
        let results = results
            .map(|results| {
                serde_json::from_value(results)
                    .map_err(|e| StoreError::Corrupt(format!("results of simulation {id}: {e}")))
            })
            .transpose()?;
        Ok(Some(SimulationRecord {
            simulation: row.simulation.try_into()?,
            plan,
            results,
            metadata: row.metadata.map(|m| m.0),
        }))
    }

    /// The stored plan with its sealed notes (an individual run's `enrichment_data`) put back.
    async fn with_notes(
        &self,
        id: Uuid,
        mut plan: Value,
        notes: Option<Vec<u8>>,
    ) -> StoreResult<Value> {
        if let Some(sealed) = notes {
            plan["enrichment_data"] = self
                .open_json(Purpose::SimulationNotes, id, &sealed)
                .await?;
        }
        Ok(plan)
    }

    /// Starts a run: a pending simulation, or a running one whose run died (or is a duplicate
    /// delivery), gets a new run token; progress restarts because the new run redoes the work.
    pub async fn claim_simulation(
        &self,
        brokerage_id: Uuid,
        id: Uuid,
        worker: &str,
        max_attempts: u32,
    ) -> StoreResult<Claim> {
        let key = self.sealing_key().await?;
        let token = Uuid::new_v4();
        let now = Utc::now();
        let claimed: Option<(Claimed, Option<DueJob>)> = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let claimed: Option<Claimed> = sqlx::query_as(
                "UPDATE simulations
                 SET status = 'running', run_token = $3, claimed_by = $4, attempts = attempts + 1,
                     progress_done = 0, progress_failed = 0, started_at = COALESCE(started_at, $5)
                 WHERE brokerage_id = $1 AND id = $2 AND status IN ('pending', 'running') AND attempts < $6
                   AND cancel_requested_at IS NULL
                 RETURNING attempts, created_by, plan, kind, progress_total, sealed_enrichment",
            )
            .bind(brokerage_id).bind(id).bind(token).bind(worker).bind(now)
            .bind(i32::try_from(max_attempts).unwrap_or(i32::MAX))
            .fetch_optional(&mut *tx)
            .await?;
            let mut notices = Vec::new();
            let mut released = None;
            if let Some((attempt, _, _, kind, total, _)) = &claimed {
                let payload = serde_json::json!({
                    "simulation_id": id, "type": kind, "attempt": attempt, "total": total,
                });
                notices.push(record_event!(tx, &key, brokerage_id, "simulation.started", id, &payload)?);
                // It no longer waits in the queue: the brokerage's next held request takes its
                // place there (a first start only; a restart never waited).
                if *attempt == 1 {
                    let due = now + chrono::Duration::from_std(SUBMITTER_GRACE).expect("a few seconds fit");
                    released = release_held!(tx, brokerage_id, due)?;
                }
            }
            tx.commit().await?;
            self.announce(&notices).await;
            claimed.map(|claimed| (claimed, released))
        });
        if let Some(((attempt, created_by, plan, _, _, notes), released)) = claimed {
            return Ok(Claim::Run {
                token,
                attempt,
                created_by,
                plan: self.with_notes(id, plan.0, notes).await?,
                released: released.map(|due| {
                    let request = JobRequest {
                        id: due.id,
                        held: false,
                    };
                    (
                        SimulationJob::for_run(due.brokerage_id, due.subject_id),
                        request,
                    )
                }),
            });
        }
        let Some(simulation) = self.get_simulation(brokerage_id, id).await? else {
            return Ok(Claim::Missing);
        };
        if simulation.status.is_final() {
            return Ok(Claim::Finished(simulation.status));
        }
        if simulation.cancel_requested_at.is_some() {
            // Asked to stop while its worker was gone: nothing runs again.
            self.finish_cancelled(id, None, None, None).await?;
            return Ok(Claim::Finished(SimulationStatus::Cancelled));
        }
        let reason = format!(
            "gave up after {} attempts: the worker running this simulation stopped each time",
            simulation.attempts
        );
        self.fail_simulation(id, None, &reason, None).await?;
        Ok(Claim::GaveUp)
    }

    /// Records progress (steps done, steps failed), and with `news` (the answers given since the
    /// last report) a `simulation.progress` event; the answer tells the run whether to go on.
    pub async fn record_progress(
        &self,
        id: Uuid,
        token: Uuid,
        (done, failed): (i64, i64),
        news: Option<&[Value]>,
    ) -> StoreResult<ProgressAck> {
        let key = self.sealing_key().await?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated: Option<(Uuid, String, i64, bool)> = sqlx::query_as(
                "UPDATE simulations SET progress_done = $3, progress_failed = $4
                 WHERE id = $1 AND run_token = $2 AND status = 'running'
                 RETURNING brokerage_id, kind, progress_total, cancel_requested_at IS NOT NULL",
            )
            .bind(id).bind(token).bind(done).bind(failed)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((brokerage_id, kind, total, stop)) = updated else {
                return Ok(ProgressAck::Superseded);
            };
            let mut notices = Vec::new();
            if let Some(answers) = news {
                let payload = progress_payload(id, &kind, (done, failed), total, answers);
                notices.push(record_event!(tx, &key, brokerage_id, "simulation.progress", id, &payload)?);
            }
            tx.commit().await?;
            self.announce(&notices).await;
            Ok(if stop { ProgressAck::StopRequested } else { ProgressAck::Continue })
        })
    }

    /// Writes the result of the run holding `token`, with its last progress and what it
    /// predicted, in one transaction; `false` if another run has taken over or the simulation
    /// already finished, in which case nothing is written.
    pub async fn complete_simulation(
        &self,
        id: Uuid,
        token: Uuid,
        last: LastProgress<'_>,
        results: &SimulationResults,
        metadata: &RunMetadata,
        predictions: &[Prediction],
    ) -> StoreResult<bool> {
        let key = self.sealing_key().await?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated: Option<(Uuid, String, i64)> = sqlx::query_as(
                "UPDATE simulations
                 SET status = 'completed', sealed_results = $3, metadata = $4, completed_at = $5,
                     run_token = NULL, summary = $6, progress_done = $7, progress_failed = $8
                 WHERE id = $1 AND run_token = $2 AND status = 'running'
                 RETURNING brokerage_id, kind, progress_total",
            )
            .bind(id).bind(token).bind(seal_results(&key, id, results)).bind(Json(metadata)).bind(Utc::now())
            .bind(&results.summary).bind(last.steps.0).bind(last.steps.1)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((brokerage_id, kind, total)) = updated else {
                return Ok(false);
            };
            insert_predictions!(tx, brokerage_id, id, metadata, predictions).await?;
            let mut notices = Vec::new();
            if let Some(answers) = last.news {
                let payload = progress_payload(id, &kind, last.steps, total, answers);
                notices.push(record_event!(tx, &key, brokerage_id, "simulation.progress", id, &payload)?);
            }
            let payload = serde_json::json!({
                "simulation_id": id, "type": kind, "summary": results.summary,
                "results_url": format!("/api/v1/simulations/{id}/results"),
            });
            notices.push(record_event!(tx, &key, brokerage_id, "simulation.completed", id, &payload)?);
            tx.commit().await?;
            self.announce(&notices).await;
            Ok(true)
        })
    }

    /// Marks the simulation failed with a reason for the user (and what the run spent, if it
    /// got that far). With a token, only if that run still holds it; without one, if it has not
    /// finished yet.
    pub async fn fail_simulation(
        &self,
        id: Uuid,
        token: Option<Uuid>,
        reason: &str,
        metadata: Option<&RunMetadata>,
    ) -> StoreResult<bool> {
        let key = self.sealing_key().await?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated: Option<(Uuid, String)> = sqlx::query_as(
                "UPDATE simulations SET status = 'failed', error = $3, completed_at = $4, run_token = NULL,
                        metadata = COALESCE($5, metadata)
                 WHERE id = $1 AND status IN ('pending', 'running') AND ($2 IS NULL OR run_token = $2)
                 RETURNING brokerage_id, kind",
            )
            .bind(id).bind(token).bind(reason).bind(Utc::now()).bind(metadata.map(Json))
            .fetch_optional(&mut *tx)
            .await?;
            let Some((brokerage_id, kind)) = updated else {
                return Ok(false);
            };
            let payload = serde_json::json!({ "simulation_id": id, "type": kind, "error": reason });
            let notice = record_event!(tx, &key, brokerage_id, "simulation.failed", id, &payload)?;
            tx.commit().await?;
            self.announce(&[notice]).await;
            Ok(true)
        })
    }

    /// Drops idempotency keys past their expiry; returns how many.
    pub async fn purge_expired_idempotency_keys(&self) -> StoreResult<u64> {
        let deleted = with_pool!(self, pool => {
            sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(deleted)
    }
}
