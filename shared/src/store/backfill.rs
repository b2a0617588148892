//! Predictions for simulations that completed before they were recorded: computed at start from
//! the stored plan and results, as the worker computes them at completion, once.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{BeginWrite, Store, StoreResult, outcomes::insert_predictions, with_pool};
use crate::{
    accuracy::predicted::{self, Whose},
    domain::{RunMetadata, SimulationPlan, SimulationResults},
};

/// Simulations read per statement.
const PAGE: i64 = 200;

#[derive(sqlx::FromRow)]
struct CompletedRun {
    id: Uuid,
    brokerage_id: Uuid,
    plan: Json<SimulationPlan>,
    results: Option<Json<Value>>,
    sealed_results: Option<Vec<u8>>,
    metadata: Option<Json<RunMetadata>>,
}

impl Store {
    /// Records the predictions of completed simulations that have none, while
    /// `predictions_to_backfill` says some may; answers how many simulations gained some. A run
    /// without a record of its model (`metadata`) cannot be attributed and is left out.
    pub(crate) async fn backfill_predictions(&self) -> StoreResult<u64> {
        let pending: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM predictions_to_backfill").fetch_one(pool).await
        })?;
        if pending == 0 {
            return Ok(0);
        }
        let mut filled = 0;
        let mut after = Uuid::nil();
        loop {
            let runs: Vec<CompletedRun> = with_pool!(self, pool => {
                sqlx::query_as(
                    "SELECT id, brokerage_id, plan, results, sealed_results, metadata FROM simulations s
                     WHERE s.id > $1 AND s.status = 'completed' AND s.metadata IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM predictions p WHERE p.simulation_id = s.id)
                     ORDER BY s.id LIMIT $2")
                    .bind(after).bind(PAGE).fetch_all(pool).await
            })?;
            let Some(last) = runs.last() else { break };
            after = last.id;
            for run in runs {
                let Some(results) = self
                    .open_results(run.id, run.results, run.sealed_results.as_deref())
                    .await?
                else {
                    continue;
                };
                // Results an earlier release stored in another shape are skipped, not fatal.
                let Ok(results) = serde_json::from_value::<SimulationResults>(results) else {
                    tracing::warn!(simulation = %run.id, "results not readable as this release's; no predictions backfilled");
                    continue;
                };
                let predictions =
                    predicted::predictions(&run.plan.0, &results, Whose::StoredClients);
                let Some(Json(metadata)) = run.metadata.filter(|_| !predictions.is_empty()) else {
                    continue;
                };
                with_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    insert_predictions!(tx, run.brokerage_id, run.id, &metadata, &predictions).await?;
                    tx.commit().await?;
                });
                filled += 1;
            }
        }
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM predictions_to_backfill").execute(pool).await.map(drop)
        })?;
        Ok(filled)
    }
}
