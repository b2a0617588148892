//! The job queues' outbox. A request to run a simulation, an enrichment or a match run is written
//! by [`record_job!`] in the transaction that creates (or retries) the run, so a crash between
//! that commit and the push to apalis cannot strand a `pending` row. The submitter pushes at once;
//! the workers' job dispatcher pushes whatever its submitter left behind and, on a queue that can
//! lose jobs (Redis without persistence), pushes again while the run is unfinished. Every push
//! names its request, and the queue keeps one task per name, so pushing twice queues once.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{BeginWrite, Pool, Store, StoreResult, with_pool};

/// How long a new request is left to its submitter's own push before the dispatcher pushes it.
/// Longer than the submitter waits on the queue (the API gives up after two seconds).
pub const SUBMITTER_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A job request just written: the name its pushes carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRequest {
    pub id: Uuid,
    /// Held for its brokerage's turn ([`hold_simulation!`]): nobody pushes it until it is
    /// released.
    pub held: bool,
}

/// A request the dispatcher has claimed to push.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueJob {
    pub id: Uuid,
    pub queue: String,
    pub brokerage_id: Uuid,
    pub subject_id: Uuid,
}

/// Inserts a request to run `$job` (a [`Job`] type) on subject `$subject` of brokerage
/// `$brokerage`, on the transaction `$tx`, any earlier request for the subject replaced, held
/// if `$held`; yields the [`JobRequest`].
macro_rules! record_job {
    ($tx:expr, $brokerage:expr, $job:ty, $subject:expr) => {
        $crate::store::job_requests::record_job!($tx, $brokerage, $job, $subject, false)
    };
    ($tx:expr, $brokerage:expr, $job:ty, $subject:expr, $held:expr) => {{
        let (brokerage_id, subject_id): (uuid::Uuid, uuid::Uuid) = ($brokerage, $subject);
        let request = $crate::store::job_requests::JobRequest {
            id: uuid::Uuid::now_v7(),
            held: $held,
        };
        let now = chrono::Utc::now();
        let due = now
            + chrono::Duration::from_std($crate::store::job_requests::SUBMITTER_GRACE)
                .expect("a few seconds fit");
        let tx = &mut $tx;
        async move {
            sqlx::query("DELETE FROM job_requests WHERE subject_id = $1")
                .bind(subject_id)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO job_requests (id, brokerage_id, queue, subject_id, created_at, due_at, held)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(request.id)
            .bind(brokerage_id)
            .bind(<$job as $crate::jobs::Job>::QUEUE)
            .bind(subject_id)
            .bind(now)
            .bind(due)
            .bind(request.held)
            .execute(&mut **tx)
            .await?;
            Ok::<_, sqlx::Error>(request)
        }
        .await
    }};
}
pub(crate) use record_job;

/// Whether the brokerage `$brokerage`'s simulation just inserted (pending) on `$tx` waits its turn
/// in the store rather than going to the queue: it does when the brokerage has simulations held
/// already (its turn comes after theirs; a held request of a run cancelled meanwhile does not
/// count), or more than `$share` pending simulations counting it. The count reads at most
/// `$share + 1` rows. Evaluates to `Result<bool, sqlx::Error>`.
macro_rules! hold_simulation {
    ($tx:expr, $brokerage:expr, $share:expr) => {{
        let (brokerage_id, share): (uuid::Uuid, u32) = ($brokerage, $share);
        let tx = &mut $tx;
        async move {
            let (held, pending): (bool, i64) = sqlx::query_as(
                "SELECT EXISTS (SELECT 1 FROM job_requests
                                WHERE brokerage_id = $1 AND queue = 'simulations' AND held
                                  AND EXISTS (SELECT 1 FROM simulations s
                                              WHERE s.id = job_requests.subject_id AND s.status = 'pending')),
                        (SELECT COUNT(*) FROM (SELECT 1 FROM simulations
                                               WHERE brokerage_id = $1 AND status = 'pending'
                                               LIMIT $2) AS waiting)",
            )
            .bind(brokerage_id)
            .bind(i64::from(share) + 1)
            .fetch_one(&mut **tx)
            .await?;
            Ok::<bool, sqlx::Error>(held || pending > i64::from(share))
        }
        .await
    }};
}
pub(crate) use hold_simulation;

/// Releases the oldest held request of `$brokerage` whose simulation still waits, on `$tx`, due
/// for the dispatcher at `$due`; evaluates to `Result<Option<DueJob>, sqlx::Error>`, the request
/// released.
macro_rules! release_held {
    ($tx:expr, $brokerage:expr, $due:expr) => {{
        let (brokerage_id, due): (uuid::Uuid, chrono::DateTime<chrono::Utc>) = ($brokerage, $due);
        let tx = &mut $tx;
        async move {
            sqlx::query_as::<_, $crate::store::job_requests::DueJob>(
                "UPDATE job_requests SET held = FALSE, due_at = $2
                 WHERE id = (SELECT id FROM job_requests
                             WHERE brokerage_id = $1 AND queue = 'simulations' AND held
                               AND EXISTS (SELECT 1 FROM simulations s
                                           WHERE s.id = job_requests.subject_id AND s.status = 'pending')
                             ORDER BY created_at, id LIMIT 1)
                   AND held
                 RETURNING id, queue, brokerage_id, subject_id",
            )
            .bind(brokerage_id)
            .bind(due)
            .fetch_optional(&mut **tx)
            .await
        }
        .await
    }};
}
pub(crate) use release_held;

/// Whether a request's run is still waiting or running; a request is settled once its run has
/// finished, failed, been cancelled, or gone with its persona or brokerage.
macro_rules! unfinished {
    () => {
        "((queue = 'simulations' AND EXISTS (SELECT 1 FROM simulations s WHERE s.id = job_requests.subject_id
                                             AND s.status IN ('pending', 'running')))
          OR (queue = 'enrichment' AND EXISTS (SELECT 1 FROM enrichments e WHERE e.id = job_requests.subject_id
                                               AND e.status IN ('queued', 'running')))
          OR (queue = 'matching' AND EXISTS (SELECT 1 FROM match_runs m WHERE m.id = job_requests.subject_id
                                             AND m.status IN ('pending', 'running'))))"
    };
}

/// Claims the due requests (`$1` now, `$2` when they come due again, `$3` how many). In
/// PostgreSQL the sub-select skips rows another dispatcher is claiming (as webhook deliveries
/// do), and the outer test re-checks a row changed meanwhile; SQLite has one writer at a time.
macro_rules! claim_due {
    ($lock:literal) => {
        concat!(
            "UPDATE job_requests SET due_at = $2
             WHERE id IN (SELECT id FROM job_requests WHERE due_at <= $1 AND NOT held ORDER BY due_at LIMIT $3",
            $lock,
            ") AND due_at <= $1
             RETURNING id, queue, brokerage_id, subject_id"
        )
    };
}

impl Store {
    /// Deletes the due requests whose runs have settled; returns how many.
    pub async fn forget_settled_job_requests(&self) -> StoreResult<u64> {
        Ok(with_pool!(self, pool => {
            sqlx::query(concat!("DELETE FROM job_requests WHERE due_at <= $1 AND NOT ", unfinished!()))
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?)
    }

    /// Gives each brokerage with held simulation requests its share of the queue again: as many
    /// are released (due at once) as it has fewer than its share of simulations waiting unheld. Starts
    /// release one each as they happen; this pass makes up for the turns that missed (a start
    /// that raced another, a waiting simulation cancelled, a releaser that died).
    pub async fn release_held_turns(&self) -> StoreResult<u64> {
        let brokerages: Vec<Uuid> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT DISTINCT brokerage_id FROM job_requests WHERE queue = 'simulations' AND held",
            )
            .fetch_all(pool)
            .await
        })?;
        let mut released = 0;
        for brokerage_id in brokerages {
            released += with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM simulations s
                     WHERE s.brokerage_id = $1 AND s.status = 'pending'
                       AND NOT EXISTS (SELECT 1 FROM job_requests r WHERE r.subject_id = s.id AND r.held)",
                )
                .bind(brokerage_id)
                .fetch_one(&mut *tx)
                .await?;
                let mut count = 0;
                for _ in waiting..i64::from(self.queue_share) {
                    if release_held!(tx, brokerage_id, Utc::now())?.is_none() {
                        break;
                    }
                    count += 1;
                }
                tx.commit().await?;
                count
            });
        }
        Ok(released)
    }

    /// Claims up to `limit` due requests, oldest first, and makes each due again at
    /// `next_due`: if the pusher dies or the queue later loses the job, it is pushed again then.
    pub async fn claim_due_job_requests(
        &self,
        next_due: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<DueJob>> {
        let now = Utc::now();
        let claimed = match &self.pool {
            Pool::Postgres(pool) => {
                sqlx::query_as(claim_due!(" FOR UPDATE SKIP LOCKED"))
                    .bind(now)
                    .bind(next_due)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await
            }
            Pool::Sqlite(pool) => {
                sqlx::query_as(claim_due!(""))
                    .bind(now)
                    .bind(next_due)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await
            }
        };
        Ok(claimed?)
    }

    /// Makes claimed requests due at once again (their push failed).
    pub async fn release_job_requests(&self, ids: &[Uuid]) -> StoreResult<()> {
        let now = Utc::now();
        for chunk in ids.chunks(super::INSERT_BATCH) {
            with_pool!(self, pool => {
                let mut update = sqlx::QueryBuilder::new("UPDATE job_requests SET due_at = ");
                update.push_bind(now).push(" WHERE id IN (");
                let mut ids = update.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                update.push(")").build().execute(pool).await?;
            });
        }
        Ok(())
    }

    /// Deletes requests whose jobs a queue that cannot lose them has taken.
    pub async fn delete_job_requests(&self, ids: &[Uuid]) -> StoreResult<()> {
        for chunk in ids.chunks(super::INSERT_BATCH) {
            with_pool!(self, pool => {
                let mut delete = sqlx::QueryBuilder::new("DELETE FROM job_requests WHERE id IN (");
                let mut ids = delete.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                delete.push(")").build().execute(pool).await?;
            });
        }
        Ok(())
    }

    /// Requests whose runs have not settled yet.
    pub async fn unsettled_job_requests(&self) -> StoreResult<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(concat!("SELECT COUNT(*) FROM job_requests WHERE ", unfinished!()))
                .fetch_one(pool)
                .await
        })?)
    }
}
