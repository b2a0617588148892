//! Stopping a simulation. One not yet started is cancelled at once; a running one is asked to
//! stop (`cancel_requested_at`), which its worker hears at its next progress report: it finishes
//! the round under way, keeps the answers it has and ends `cancelled`. A run that completes its
//! last round before it hears the request completes as usual.

use chrono::Utc;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    BeginWrite, Store, StoreResult, events::record_event, simulations::seal_results, with_pool,
};
use crate::{
    auth::Principal,
    domain::{Role, RunMetadata, Simulation, SimulationResults, SimulationStatus},
};

/// What asking to cancel did.
#[derive(Debug)]
pub enum CancelOutcome {
    /// It had not started: it is cancelled now.
    Cancelled(Simulation),
    /// It is running: it stops before its next round.
    Stopping(Simulation),
    /// It had already completed, failed or been cancelled.
    AlreadyFinished(Simulation),
    /// The caller sees it but may not stop it: an agent stops only what they submitted.
    NotTheirs(Simulation),
}

impl Store {
    /// Cancels, or asks to stop, a simulation the caller sees; `None` if they see none by that
    /// id. The agent who submitted it, team leads and admins may stop it; the statements hold
    /// that rule, so no caller gets past it.
    pub async fn cancel_simulation(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> StoreResult<Option<CancelOutcome>> {
        let key = self.sealing_key().await?;
        // Who may not see it learns nothing of it, and changes nothing.
        if self.simulation_for(caller, id).await?.is_none() {
            return Ok(None);
        }
        let now = Utc::now();
        let brokerage_id = caller.brokerage_id;
        let any_submitter = caller.role != Role::Agent;
        let cancelled_now = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let pending: Option<(String,)> = sqlx::query_as(
                "UPDATE simulations SET status = 'cancelled', completed_at = $3, cancel_requested_at = $3
                 WHERE brokerage_id = $1 AND id = $2 AND status = 'pending' AND ($4 OR created_by = $5)
                 RETURNING kind",
            )
            .bind(brokerage_id).bind(id).bind(now).bind(any_submitter).bind(caller.user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let mut notices = Vec::new();
            if let Some((kind,)) = &pending {
                let payload = serde_json::json!({
                    "simulation_id": id, "type": kind, "done": 0, "results_url": results_url(id),
                });
                notices.push(record_event!(tx, &key, brokerage_id, "simulation.cancelled", id, &payload)?);
            } else {
                sqlx::query(
                    "UPDATE simulations SET cancel_requested_at = COALESCE(cancel_requested_at, $3)
                     WHERE brokerage_id = $1 AND id = $2 AND status = 'running' AND ($4 OR created_by = $5)",
                )
                .bind(brokerage_id).bind(id).bind(now).bind(any_submitter).bind(caller.user_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            self.announce(&notices).await;
            pending.is_some()
        });
        let Some(simulation) = self.simulation_for(caller, id).await? else {
            return Ok(None);
        };
        Ok(Some(if cancelled_now {
            CancelOutcome::Cancelled(simulation)
        } else if !any_submitter && simulation.created_by != caller.user_id {
            CancelOutcome::NotTheirs(simulation)
        } else if simulation.status == SimulationStatus::Running {
            CancelOutcome::Stopping(simulation)
        } else {
            CancelOutcome::AlreadyFinished(simulation)
        }))
    }

    /// Ends a simulation that was asked to stop as `cancelled`, with the results of the answers it
    /// had (if any). With a token, only while that run holds it; without, if not yet finished.
    pub async fn finish_cancelled(
        &self,
        id: Uuid,
        token: Option<Uuid>,
        results: Option<&SimulationResults>,
        metadata: Option<&RunMetadata>,
    ) -> StoreResult<bool> {
        let key = self.sealing_key().await?;
        let summary = results.map(|r| r.summary.as_str());
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated: Option<(Uuid, String, i64, i64)> = sqlx::query_as(
                "UPDATE simulations SET status = 'cancelled', sealed_results = COALESCE($3, sealed_results),
                        metadata = COALESCE($4, metadata), summary = COALESCE($5, summary),
                        completed_at = $6, run_token = NULL
                 WHERE id = $1 AND status IN ('pending', 'running') AND ($2 IS NULL OR run_token = $2)
                 RETURNING brokerage_id, kind, progress_done, progress_total",
            )
            .bind(id).bind(token).bind(results.map(|r| seal_results(&key, id, r))).bind(metadata.map(Json)).bind(summary)
            .bind(Utc::now())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((brokerage_id, kind, done, total)) = updated else {
                return Ok(false);
            };
            let payload = serde_json::json!({
                "simulation_id": id, "type": kind, "done": done, "total": total,
                "summary": summary, "results_url": results_url(id),
            });
            let notice = record_event!(tx, &key, brokerage_id, "simulation.cancelled", id, &payload)?;
            tx.commit().await?;
            self.announce(&[notice]).await;
            Ok(true)
        })
    }
}

fn results_url(id: Uuid) -> String {
    format!("/api/v1/simulations/{id}/results")
}
