//! The job dispatcher: pushes the job requests (the store's outbox of the job queues) that their
//! submitters did not get to push — the API process died after its commit, or the queue was down
//! — and, on a queue that can lose jobs, pushes the requests of unfinished runs again every
//! recheck, so a Redis restarted empty gets its jobs back. Pushes name their requests, so a job
//! the queue still holds is not queued twice, and the runs' fencing lets only one run write.

use std::time::Duration;
use troupe_shared::causes::Causes;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use troupe_shared::{
    Store,
    config::WorkerConfig,
    jobs::RequestedJob,
    queue::{Queue, Queues},
    store::{DueJob, JobRequest},
};
use uuid::Uuid;

/// Requests claimed per statement.
const BATCH: u32 = 500;
/// The pause after a failed pass (the database or the queue is away).
const ERROR_PAUSE: Duration = Duration::from_secs(5);

type DispatchError = Box<dyn std::error::Error + Send + Sync>;

/// Until `shutdown`: a pass every sweep interval.
pub async fn dispatch(
    store: Store,
    queues: Queues,
    config: WorkerConfig,
    shutdown: CancellationToken,
) {
    loop {
        let pause = match dispatch_once(&store, &queues, config.job_recheck_after).await {
            Ok(()) => config.job_sweep_interval,
            Err(e) => {
                tracing::warn!(error = %Causes(&*e), "job dispatch failed; retrying");
                ERROR_PAUSE.max(config.job_sweep_interval)
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// One pass: forget the requests of settled runs, give brokerages with held simulations the
/// turns they are owed, then push every due request.
pub async fn dispatch_once(
    store: &Store,
    queues: &Queues,
    recheck_after: Duration,
) -> Result<(), DispatchError> {
    store.forget_settled_job_requests().await?;
    store.release_held_turns().await?;
    let recheck = chrono::Duration::from_std(recheck_after)?;
    loop {
        // Claimed requests come due again after the recheck, so each is pushed once a pass.
        let due = store
            .claim_due_job_requests(Utc::now() + recheck, BATCH)
            .await?;
        push_due(store, &queues.simulations, &due).await?;
        push_due(store, &queues.enrichment, &due).await?;
        push_due(store, &queues.matching, &due).await?;
        if due.len() < BATCH as usize {
            return Ok(());
        }
    }
}

/// Pushes the claimed requests of `queue`'s job type.
async fn push_due<J: RequestedJob>(
    store: &Store,
    queue: &Queue<J>,
    due: &[DueJob],
) -> Result<(), DispatchError> {
    let (ids, jobs): (Vec<Uuid>, Vec<_>) = due
        .iter()
        .filter(|request| request.queue == J::QUEUE)
        .map(|request| {
            let job = J::for_run(request.brokerage_id, request.subject_id);
            (
                request.id,
                (
                    job,
                    JobRequest {
                        id: request.id,
                        held: false,
                    },
                ),
            )
        })
        .unzip();
    if ids.is_empty() {
        return Ok(());
    }
    if let Err(e) = queue.push_requested(jobs).await {
        store.release_job_requests(&ids).await?;
        return Err(e.into());
    }
    tracing::debug!(
        queue = J::QUEUE,
        requests = ids.len(),
        "job requests pushed"
    );
    if !queue.can_lose_jobs() {
        store.delete_job_requests(&ids).await?;
    }
    Ok(())
}
