//! Webhook delivery. A dispatcher in every worker turns committed outbox events into deliveries
//! (one per subscribed endpoint) and queues those that are due on the `webhooks` queue; the
//! queue's handler makes one signed attempt and schedules the next on failure. Retries follow
//! `TROUPE_WEBHOOK_RETRY_SCHEDULE` with ±20 % jitter, waiting longer when the endpoint's
//! `Retry-After` asks for it; an endpoint failing for `TROUPE_WEBHOOK_DISABLE_AFTER_HOURS` is
//! disabled.

mod sender;

use std::time::Duration;
use troupe_shared::causes::Causes;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use troupe_shared::{
    Store, StoreError,
    config::WebhookConfig,
    jobs::WebhookJob,
    queue::Queue,
    store::{DeliveryOutcome, DeliveryTask, FAN_OUT_BATCH},
};

pub use sender::Sender;

/// Due deliveries queued per pass.
const QUEUE_BATCH: u32 = 200;
/// Pause after the database or the queue failed.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

/// What the delivery handler needs; one per worker process.
pub struct WebhookDeps {
    pub store: Store,
    pub sender: Sender,
    pub config: WebhookConfig,
}

/// How long a delivery is held by the job (or the worker) that has it: one request and some
/// slack. A holder that dies leaves it to be queued again after this.
fn lease(config: &WebhookConfig) -> chrono::Duration {
    chrono::Duration::from_std(config.timeout + Duration::from_secs(5))
        .unwrap_or(chrono::Duration::MAX)
}

/// Handles one job: one attempt at one delivery, unless it is not this job's to make.
pub async fn deliver(job: &WebhookJob, deps: &WebhookDeps) -> Result<(), StoreError> {
    let store = &deps.store;
    let Some(task) = store
        .start_delivery(job.delivery_id, Utc::now() + lease(&deps.config))
        .await?
    else {
        return Ok(());
    };
    if !task.enabled {
        return store
            .abandon_delivery(
                task.id,
                "the endpoint is disabled; enable it, then redeliver",
            )
            .await;
    }
    let body = serde_json::to_vec(&task.body).expect("a JSON value serializes");
    if body.len() > deps.config.max_payload_bytes {
        let reason = format!(
            "the payload of {} bytes exceeds TROUPE_WEBHOOK_MAX_PAYLOAD_BYTES ({})",
            body.len(),
            deps.config.max_payload_bytes
        );
        return store.abandon_delivery(task.id, &reason).await;
    }
    let number = task.attempts + 1;
    let sent = deps.sender.send(&task, body, number).await;
    let outcome = if sent.delivered {
        DeliveryOutcome::Delivered
    } else {
        match next_attempt(
            &deps.config.retry_schedule,
            number,
            sent.retry_after,
            rand::rng().random_range(0.8..1.2),
        ) {
            Some(wait) => DeliveryOutcome::RetryAt(sent.attempt.attempted_at + wait),
            None => DeliveryOutcome::GaveUp,
        }
    };
    let label = match outcome {
        DeliveryOutcome::Delivered => "delivered",
        DeliveryOutcome::RetryAt(_) => "retrying",
        DeliveryOutcome::GaveUp => "failed",
    };
    metrics::counter!("troupe_webhook_attempts_total", "outcome" => label).increment(1);
    metrics::histogram!("troupe_webhook_attempt_duration_seconds")
        .record(sent.attempt.latency_ms as f64 / 1000.0);
    let disabled = store
        .finish_attempt(
            &task,
            &sent.attempt,
            &outcome,
            disable_before(&deps.config),
            &disable_reason(&task),
        )
        .await?;
    if disabled {
        tracing::warn!(webhook = %task.webhook_id, url = %task.url, "{}", disable_reason(&task));
    }
    Ok(())
}

fn disable_before(config: &WebhookConfig) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::from_std(config.disable_after).unwrap_or(chrono::Duration::MAX)
}

fn disable_reason(task: &DeliveryTask) -> String {
    format!(
        "disabled after failing for too long; fix the endpoint, then PATCH /api/v1/webhooks/{} \
         with {{\"enabled\": true}} and redeliver what it missed",
        task.webhook_id
    )
}

/// The wait before the attempt after attempt `number` failed, or `None` when that was the last.
/// `jitter` scales the scheduled wait; a longer `Retry-After` wins.
fn next_attempt(
    schedule: &[Duration],
    number: i32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<chrono::Duration> {
    let scheduled = schedule.get(usize::try_from(number - 1).ok()?)?;
    let wait = scheduled
        .mul_f64(jitter)
        .max(retry_after.unwrap_or_default());
    chrono::Duration::from_std(wait).ok()
}

/// Until `shutdown`: fans committed events out into deliveries and queues the deliveries that
/// are due, woken by each committed event and otherwise every poll interval.
pub async fn dispatch(
    store: Store,
    queue: Queue<WebhookJob>,
    config: WebhookConfig,
    shutdown: CancellationToken,
) {
    let mut committed = store.bus().subscribe();
    let lease = lease(&config);
    loop {
        let pause = match dispatch_once(&store, &queue, lease).await {
            Ok(()) => config.poll_interval,
            Err(e) => {
                tracing::warn!(error = %Causes(&*e), "webhook dispatch failed; retrying");
                ERROR_PAUSE
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            notice = committed.recv() => {
                if let Err(RecvError::Closed) = notice {
                    tokio::time::sleep(pause).await;
                }
                // One pass serves every event committed meanwhile.
                while committed.try_recv().is_ok() {}
            }
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

async fn dispatch_once(
    store: &Store,
    queue: &Queue<WebhookJob>,
    lease: chrono::Duration,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Fan-out and queueing alternate batch by batch, so a steady stream of new events cannot
    // hold back the deliveries already due.
    loop {
        let fanned_out = store.fan_out_events().await?;
        let due = store
            .claim_due_deliveries(Utc::now() + lease, QUEUE_BATCH)
            .await?;
        let queued = due.len();
        // A push that fails leaves the deliveries leased; they are queued again when that ends.
        queue
            .push_all(
                due.into_iter()
                    .map(|delivery_id| WebhookJob { delivery_id })
                    .collect(),
            )
            .await?;
        if fanned_out < FAN_OUT_BATCH && queued < QUEUE_BATCH as usize {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_then_stop() {
        let schedule = [Duration::from_secs(5), Duration::from_secs(300)];
        let secs = |d: Option<chrono::Duration>| d.map(|d| d.num_seconds());
        assert_eq!(secs(next_attempt(&schedule, 1, None, 1.0)), Some(5));
        assert_eq!(secs(next_attempt(&schedule, 2, None, 1.0)), Some(300));
        assert_eq!(secs(next_attempt(&schedule, 3, None, 1.0)), None);
        assert_eq!(secs(next_attempt(&schedule, 2, None, 0.8)), Some(240));
    }

    #[test]
    fn a_longer_retry_after_wins() {
        let schedule = [Duration::from_secs(5)];
        let wait = next_attempt(&schedule, 1, Some(Duration::from_secs(60)), 1.0);
        assert_eq!(wait.map(|d| d.num_seconds()), Some(60));
        let wait = next_attempt(&schedule, 1, Some(Duration::from_secs(1)), 1.0);
        assert_eq!(wait.map(|d| d.num_seconds()), Some(5));
    }

    #[test]
    fn the_default_schedule_spans_more_than_a_day() {
        let config = troupe_shared::Config::from_vars(Default::default()).unwrap();
        let total: Duration = config.webhooks.retry_schedule.iter().sum();
        assert!(total > Duration::from_secs(24 * 3600), "{total:?}");
    }
}
