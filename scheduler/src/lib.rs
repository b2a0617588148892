//! The scheduler role: apalis-cron schedules that keep the service tidy (and erase deleted
//! clients once their restore window closes), enqueue the nightly matching runs, refit the
//! brokerages' calibrations and fire the brokerages' own scheduled simulations.

use std::{future::Future, pin::Pin, str::FromStr, sync::Arc};
use troupe_shared::causes::Causes;

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use chrono::{DateTime, TimeZone, Utc};
use tokio_util::sync::CancellationToken;
use troupe_shared::{
    Config, Store, StoreError,
    domain::MatchParams,
    jobs::{MatchingJob, RequestedJob},
    queue::{QueueError, Queues},
};
use uuid::Uuid;

/// Hourly, on the hour (seconds field first).
const CLEANUP_SCHEDULE: &str = "0 0 * * * *";
/// How often the brokerages' schedules are looked at: a slot fires within this of its time.
const SCHEDULES_TICK: &str = "*/10 * * * * *";

/// What a firing of the brokerages' scheduled simulations returns: how many slots it recorded.
pub type Fired = Pin<Box<dyn Future<Output = Result<u32, BoxDynError>> + Send + 'static>>;

/// Fires the brokerages' scheduled simulations due at an instant. The API crate plans and
/// submits them (`troupe_api::ScheduledSimulations`); the binary hands it in, so the scheduler
/// knows when and the API what a stored request means.
#[derive(Clone)]
pub struct FireSchedules(Arc<dyn Fn(DateTime<Utc>) -> Fired + Send + Sync + 'static>);

impl FireSchedules {
    pub fn new(fire: impl Fn(DateTime<Utc>) -> Fired + Send + Sync + 'static) -> Self {
        FireSchedules(Arc::new(fire))
    }

    fn at(&self, now: DateTime<Utc>) -> Fired {
        (self.0)(now)
    }
}
/// How far back start-up looks for a nightly slot missed while the scheduler was down.
const CATCH_UP_WINDOW: chrono::Duration = chrono::Duration::days(7);

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("invalid schedule {0:?}: {1}")]
    Schedule(String, cron::error::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("scheduler stopped")]
    Apalis(#[from] WorkerError),
}

/// What one cleanup removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub idempotency_keys: u64,
    pub cached_responses: u64,
    pub events: u64,
}

/// Drops idempotency keys and cached model responses past their expiry, and outbox events (with
/// their webhook deliveries) older than `event_retention` whose deliveries are all done.
pub async fn purge_expired(
    store: &Store,
    event_retention: std::time::Duration,
) -> Result<Purged, StoreError> {
    let purged = Purged {
        idempotency_keys: store.purge_expired_idempotency_keys().await?,
        cached_responses: store.purge_expired_responses().await?,
        events: store
            .purge_old_events(
                Utc::now()
                    - chrono::Duration::from_std(event_retention).unwrap_or(chrono::Duration::MAX),
            )
            .await?,
    };
    tracing::info!(?purged, "expired data removed");
    Ok(purged)
}

/// Erases the deleted clients whose restore window closed by `now` and, if any went, empties the
/// shared response cache kept under `cache_prefix` (its entries cannot be traced to the clients
/// they were made for); returns how many were erased.
pub async fn erase_due_clients(
    store: &Store,
    queues: &Queues,
    cache_prefix: &str,
    now: DateTime<Utc>,
) -> Result<u64, SchedulerError> {
    let erased = store.erase_due_personas(now).await?;
    if erased > 0 {
        queues.forget_cached_responses(cache_prefix).await?;
        tracing::info!(erased, "deleted clients erased after their restore window");
    }
    Ok(erased)
}

/// What the hourly cleanup needs.
#[derive(Clone)]
struct Cleanup {
    store: Store,
    queues: Queues,
    event_retention: std::time::Duration,
    cache_prefix: String,
}

async fn cleanup_tick(_tick: Tick, cleanup: Data<Cleanup>) -> Result<(), BoxDynError> {
    purge_expired(&cleanup.store, cleanup.event_retention).await?;
    erase_due_clients(
        &cleanup.store,
        &cleanup.queues,
        &cleanup.cache_prefix,
        Utc::now(),
    )
    .await?;
    Ok(())
}

/// What the nightly ticks need.
#[derive(Clone)]
struct Nightly {
    store: Store,
    queues: Queues,
    config: Config,
}

/// Creates and enqueues each brokerage's nightly run for `slot`, or just `brokerages` when
/// given. A brokerage that has a run for the slot already (another scheduler replica, a repeated
/// tick) gets none; returns the runs created.
pub async fn schedule_nightly(
    store: &Store,
    queues: &Queues,
    config: &Config,
    slot: DateTime<Utc>,
    brokerages: Option<&[Uuid]>,
) -> Result<Vec<Uuid>, StoreError> {
    let all;
    let brokerages = match brokerages {
        Some(ids) => ids,
        None => {
            all = store.brokerage_ids().await?;
            &all
        }
    };
    let params = nightly_params(config);
    let mut created = Vec::new();
    for &brokerage_id in brokerages {
        let run = store
            .create_nightly_run(brokerage_id, &params, slot)
            .await?;
        let Some((run, request)) = run else { continue };
        let job = MatchingJob::for_run(brokerage_id, run.id);
        queues.matching.push_after_commit(job, request).await;
        created.push(run.id);
    }
    Ok(created)
}

/// The nightly run's parameters: brokerage-wide, the configured threshold and per-listing cap.
pub fn nightly_params(config: &Config) -> MatchParams {
    MatchParams {
        limit: config.matching.report_top_k as u32,
        min_score: config.matching.report_threshold,
        rerank: false,
        caller: None,
    }
}

/// Refits every brokerage's calibrations on all its outcomes for `slot`; returns how many
/// calibrations are in force afterwards, over all brokerages.
pub async fn refit_calibrations(
    store: &Store,
    config: &Config,
    slot: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut in_force = 0;
    for brokerage_id in store.brokerage_ids().await? {
        in_force += store
            .refit_calibrations(brokerage_id, slot, config.accuracy_calibration_min)
            .await?
            .len();
    }
    Ok(in_force)
}

async fn nightly_tick(tick: Tick, nightly: Data<Nightly>) -> Result<(), BoxDynError> {
    let slot = Utc
        .timestamp_opt(tick.get_timestamp() as i64, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let runs =
        schedule_nightly(&nightly.store, &nightly.queues, &nightly.config, slot, None).await?;
    tracing::info!(%slot, runs = runs.len(), "nightly matching enqueued");
    let in_force = refit_calibrations(&nightly.store, &nightly.config, slot).await?;
    tracing::info!(%slot, in_force, "calibrations refitted");
    Ok(())
}

async fn schedules_tick(tick: Tick, fire: Data<FireSchedules>) -> Result<(), BoxDynError> {
    let now = Utc
        .timestamp_opt(tick.get_timestamp() as i64, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let fired = fire.at(now).await?;
    if fired > 0 {
        tracing::info!(%now, fired, "scheduled simulations fired");
    }
    Ok(())
}

/// The latest slot of `schedule` at or before `now`, within the catch-up window.
pub fn latest_slot(schedule: &cron::Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule
        .after(&(now - CATCH_UP_WINDOW))
        .take_while(|slot| *slot <= now)
        .last()
}

fn parse_schedule(expression: &str) -> Result<cron::Schedule, SchedulerError> {
    cron::Schedule::from_str(expression)
        .map_err(|e| SchedulerError::Schedule(expression.to_owned(), e))
}

/// Runs the schedules until `shutdown` fires. Each scheduler replica fires its own ticks: the
/// cleanup is idempotent, and the nightly run is one per brokerage and slot whoever creates it.
/// A nightly slot missed while no scheduler ran is caught up once at start.
pub async fn run(
    config: &Config,
    store: Store,
    queues: Queues,
    fire_schedules: FireSchedules,
    shutdown: CancellationToken,
) -> Result<(), SchedulerError> {
    let cleanup = parse_schedule(CLEANUP_SCHEDULE)?;
    let nightly_schedule = parse_schedule(&config.matching.cron)?;
    let schedules_tick_schedule = parse_schedule(SCHEDULES_TICK)?;
    // A brokerage's slot missed while no scheduler ran fires once now (its latest only).
    match fire_schedules.at(Utc::now()).await {
        Ok(0) => {}
        Ok(fired) => tracing::info!(fired, "caught up missed scheduled simulations"),
        Err(e) => tracing::warn!(
            error = %Causes(&*e),
            "scheduled simulations could not be caught up; the next tick tries again"
        ),
    }
    if let Some(slot) = latest_slot(&nightly_schedule, Utc::now()) {
        let runs = schedule_nightly(&store, &queues, config, slot, None).await?;
        if !runs.is_empty() {
            tracing::info!(%slot, runs = runs.len(), "caught up a missed nightly matching slot");
        }
        // Once per slot whoever fits it: a restart within the slot changes nothing.
        refit_calibrations(&store, config, slot).await?;
    }
    let cleanup_data = Cleanup {
        store: store.clone(),
        queues: queues.clone(),
        event_retention: config.event_retention,
        cache_prefix: config.response_cache_prefix(),
    };
    let nightly = Nightly {
        store,
        queues,
        config: config.clone(),
    };
    let name = format!(
        "troupe-scheduler-{}-{}",
        std::process::id(),
        ulid::Ulid::new()
    );
    tracing::info!(scheduler = %name, cleanup = CLEANUP_SCHEDULE, nightly = %config.matching.cron, "scheduler started");
    let stop = |shutdown: CancellationToken| async move {
        shutdown.cancelled().await;
        Ok::<(), std::io::Error>(())
    };
    let cleanup_worker = WorkerBuilder::new(format!("{name}-cleanup").as_str())
        .backend(CronScheduler::new(cleanup))
        .data(cleanup_data)
        .build(cleanup_tick)
        .run_until(stop(shutdown.clone()));
    let nightly_worker = WorkerBuilder::new(format!("{name}-nightly").as_str())
        .backend(CronScheduler::new(nightly_schedule))
        .data(nightly)
        .build(nightly_tick)
        .run_until(stop(shutdown.clone()));
    let schedules_worker = WorkerBuilder::new(format!("{name}-schedules").as_str())
        .backend(CronScheduler::new(schedules_tick_schedule))
        .data(fire_schedules)
        .build(schedules_tick)
        .run_until(stop(shutdown.clone()));
    let (cleanup_result, nightly_result, schedules_result) =
        tokio::join!(cleanup_worker, nightly_worker, schedules_worker);
    cleanup_result?;
    nightly_result?;
    schedules_result?;
    tracing::info!(scheduler = %name, "scheduler stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_slot_is_the_last_one_not_in_the_future() {
        let nightly = parse_schedule("0 0 2 * * *").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        assert_eq!(
            latest_slot(&nightly, now),
            Some(Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap())
        );
        let before_two = Utc.with_ymd_and_hms(2026, 11, 25, 1, 59, 59).unwrap();
        assert_eq!(
            latest_slot(&nightly, before_two),
            Some(Utc.with_ymd_and_hms(2026, 11, 24, 2, 0, 0).unwrap())
        );
    }
}
