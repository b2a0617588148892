//! The scheduler role: apalis-cron schedules that keep the service tidy and (later) enqueue the
//! nightly matching runs.

use std::str::FromStr;

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use tokio_util::sync::CancellationToken;
use troupe_shared::Store;

/// Hourly, on the hour (seconds field first).
const CLEANUP_SCHEDULE: &str = "0 0 * * * *";

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("invalid schedule {0:?}: {1}")]
    Schedule(&'static str, cron::error::Error),
    #[error("scheduler stopped: {0}")]
    Apalis(#[from] apalis::prelude::WorkerError),
}

/// Drops idempotency keys and cached model responses past their expiry; returns how many of
/// each.
pub async fn purge_expired(store: &Store) -> Result<(u64, u64), troupe_shared::StoreError> {
    let keys = store.purge_expired_idempotency_keys().await?;
    let responses = store.purge_expired_responses().await?;
    tracing::info!(
        keys,
        responses,
        "expired idempotency keys and cached responses removed"
    );
    Ok((keys, responses))
}

async fn cleanup_tick(_tick: Tick, store: Data<Store>) -> Result<(), BoxDynError> {
    purge_expired(&store).await?;
    Ok(())
}

/// Runs the schedules until `shutdown` fires. Each scheduler replica fires its own ticks; the
/// cleanup is idempotent, so replicas need no coordination.
pub async fn run(store: Store, shutdown: CancellationToken) -> Result<(), SchedulerError> {
    let schedule = cron::Schedule::from_str(CLEANUP_SCHEDULE)
        .map_err(|e| SchedulerError::Schedule(CLEANUP_SCHEDULE, e))?;
    let name = format!(
        "troupe-scheduler-{}-{}",
        std::process::id(),
        ulid::Ulid::new()
    );
    tracing::info!(scheduler = %name, cleanup = CLEANUP_SCHEDULE, "scheduler started");
    WorkerBuilder::new(name.as_str())
        .backend(CronScheduler::new(schedule))
        .data(store)
        .build(cleanup_tick)
        .run_until(async move {
            shutdown.cancelled().await;
            Ok::<(), std::io::Error>(())
        })
        .await?;
    tracing::info!(scheduler = %name, "scheduler stopped");
    Ok(())
}
