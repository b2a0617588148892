//! The job queues of both shapes behind one type: apalis-sqlite in the embedded shape,
//! apalis-redis in the distributed one, each with a bell that wakes idle workers on a push.

mod redis_server;
mod wake;

use crate::causes::Causes;
use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskId, TaskSink};
use apalis_redis::{ConnectionManager, RedisStorage};
use apalis_sqlite::{SqlitePool, SqlitePoolOptions, SqliteStorage};
pub use redis_server::RedisServer;
use tokio_util::sync::CancellationToken;
use wake::{Arrivals, Bell};

use crate::{
    config::Config,
    jobs::{EnrichmentJob, Job, MatchingJob, SimulationJob, WebhookJob},
    store::JobRequest,
};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("could not connect to Redis")]
    Connect(#[from] redis::RedisError),
    #[error("SQLite queue")]
    Sqlite(#[from] apalis_sqlite::Error),
    #[error("could not enqueue the job")]
    Push(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("could not empty the response cache in Redis")]
    Cache(#[source] redis::RedisError),
}

impl QueueError {
    /// A push the queue's backend refused, whatever its error type.
    fn push(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        QueueError::Push(Box::new(error))
    }
}

/// Where jobs of one type go. Cloning is cheap: clones share the connection and the bell.
pub struct Queue<J> {
    pub storage: Storage<J>,
    bell: Bell,
}

/// A queue's backend.
pub enum Storage<J> {
    Sqlite(SqliteStorage<J>),
    Redis(RedisStorage<J>),
}

impl<J> Clone for Queue<J> {
    fn clone(&self) -> Self {
        let storage = match &self.storage {
            Storage::Sqlite(storage) => Storage::Sqlite(storage.clone()),
            Storage::Redis(storage) => Storage::Redis(storage.clone()),
        };
        Queue {
            storage,
            bell: self.bell.clone(),
        }
    }
}

// Both backends get the same deliberate settings instead of apalis' defaults (30 s heartbeats,
// 300 s orphan recovery on Redis, batches of ten that one worker would hoard).
impl<J: Job> Queue<J> {
    fn sqlite(pool: &SqlitePool, config: &Config) -> Self {
        let worker = &config.worker;
        let settings = apalis_sqlite::Config::default()
            .queue(config.queue_name(J::QUEUE))
            .heartbeat_interval(worker.heartbeat_interval)
            .missed_heartbeats(worker.missed_heartbeats)
            .batch_size(config.concurrency(J::QUEUE));
        Queue {
            storage: Storage::Sqlite(SqliteStorage::new(pool).with_config(settings)),
            bell: Bell::default(),
        }
    }

    fn redis(conn: ConnectionManager, config: &Config) -> Self {
        let worker = &config.worker;
        let settings = apalis_redis::Config::default()
            .queue(config.queue_name(J::QUEUE))
            .heartbeat_interval(worker.heartbeat_interval)
            .missed_heartbeats(worker.missed_heartbeats)
            .batch_size(config.concurrency(J::QUEUE));
        Queue {
            storage: Storage::Redis(RedisStorage::new(conn).with_config(settings)),
            bell: Bell::default(),
        }
    }

    /// Yields whenever a job may have arrived (rings coalesce); consumers still poll as well.
    pub fn arrivals(&self) -> Arrivals {
        self.bell.listen()
    }

    /// The Redis channel this queue's pushes are announced on. (apalis-redis 1.0 announces
    /// only jobs it queues unscheduled, and it schedules every push for the current second, so
    /// the pushers announce their own.)
    fn announcements(&self) -> Option<String> {
        match &self.storage {
            Storage::Redis(storage) => Some(format!(
                "{}:pushed",
                storage.get_config().active_jobs_list()
            )),
            Storage::Sqlite(_) => None,
        }
    }

    /// Tells idle consumers a push happened: in the embedded shape by ringing the bell of this
    /// process, in the distributed one by publishing on Redis. A lost announcement costs only
    /// latency: the consumers' polls find the job.
    async fn announce(&self) {
        match self.clone().storage {
            Storage::Sqlite(_) => self.bell.ring(),
            Storage::Redis(mut storage) => {
                let channel = self.announcements().expect("a Redis queue has a channel");
                let mut conn = storage.get_connection().clone();
                let published = redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(1)
                    .query_async::<i64>(&mut conn)
                    .await;
                if let Err(e) = published {
                    tracing::debug!(queue = J::QUEUE, error = %Causes(&e), "push not announced; polls will find it");
                }
            }
        }
    }

    /// Jobs waiting: apalis-redis keeps them in the `<queue>:active` list (which is also what
    /// KEDA scales workers on), apalis-sqlite as `Pending` rows of its `Jobs` table.
    pub async fn depth(&self, queue_name: &str) -> Result<u64, QueueError> {
        match self.clone().storage {
            Storage::Sqlite(storage) => {
                let pending: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM Jobs WHERE job_type = ?1 AND status = 'Pending'",
                )
                .bind(queue_name)
                .fetch_one(storage.pool())
                .await
                .map_err(apalis_sqlite::Error::from)?;
                Ok(pending.max(0) as u64)
            }
            Storage::Redis(mut storage) => {
                let list = format!("{queue_name}:active");
                let mut conn = storage.get_connection().clone();
                Ok(redis::cmd("LLEN").arg(list).query_async(&mut conn).await?)
            }
        }
    }

    /// Several jobs in one go (apalis' bulk push: one round trip on Redis, one statement batch
    /// on SQLite).
    pub async fn push_all(&self, jobs: Vec<J>) -> Result<(), QueueError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let result = match self.clone().storage {
            Storage::Sqlite(mut storage) => storage.push_bulk(jobs).await.map_err(QueueError::push),
            Storage::Redis(mut storage) => storage.push_bulk(jobs).await.map_err(QueueError::push),
        };
        result?;
        self.announce().await;
        Ok(())
    }

    /// Whether a job this queue took can vanish while its run waits in the store: Redis run
    /// without persistence loses everything on a restart; SQLite's queue is in the store's file.
    pub fn can_lose_jobs(&self) -> bool {
        matches!(self.storage, Storage::Redis(_))
    }

    /// Pushes jobs named by their requests. A name the queue already holds is not queued again
    /// (apalis-sqlite keeps one row per idempotency key, apalis-redis one task per id), so the
    /// submitter and the dispatcher may both push a request.
    pub async fn push_requested(&self, jobs: Vec<(J, JobRequest)>) -> Result<(), QueueError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let name = |request: JobRequest| request.id.to_string();
        let result = match self.clone().storage {
            Storage::Sqlite(mut storage) => {
                // The id stays apalis' own: a second row with the same key is skipped by the
                // key's unique index, not refused by the primary key.
                let tasks = jobs.into_iter().map(|(job, request)| {
                    TaskBuilder::new(job).idempotency_key(name(request)).build()
                });
                storage
                    .push_all(futures::stream::iter(tasks))
                    .await
                    .map_err(QueueError::push)
            }
            Storage::Redis(mut storage) => {
                let tasks = jobs.into_iter().map(|(job, request)| {
                    TaskBuilder::new(job)
                        .task_id(TaskId::from_string(name(request)))
                        .build()
                });
                storage
                    .push_all(futures::stream::iter(tasks))
                    .await
                    .map_err(QueueError::push)
            }
        };
        result?;
        self.announce().await;
        Ok(())
    }

    /// Pushes a run's job right after the commit that requested it (unless the request is
    /// held for its brokerage's turn). A queue that is down or
    /// slow costs the submitter at most [`SUBMITTER_WAIT`]: the request is in the store, and the
    /// workers' dispatcher pushes it once the queue answers, so the submission stands either way.
    pub async fn push_after_commit(&self, job: J, request: JobRequest) {
        if request.held {
            // Its brokerage's turn comes when one of its waiting simulations starts.
            return;
        }
        match tokio::time::timeout(SUBMITTER_WAIT, self.push_requested(vec![(job, request)])).await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(queue = J::QUEUE, request = %request.id, error = %Causes(&e),
                    "the queue refused the job; the dispatcher will push it");
            }
            Err(_) => {
                tracing::warn!(queue = J::QUEUE, request = %request.id,
                    "the queue did not answer; the dispatcher will push the job");
            }
        }
    }
}

/// How long a submitter waits on the queue after its commit; under the store's
/// [`SUBMITTER_GRACE`](crate::store::job_requests::SUBMITTER_GRACE), so the dispatcher does not
/// push a request its submitter is still pushing.
pub const SUBMITTER_WAIT: Duration = Duration::from_secs(2);

/// Every queue of the service, on one backend.
#[derive(Clone)]
pub struct Queues {
    pub simulations: Queue<SimulationJob>,
    pub enrichment: Queue<EnrichmentJob>,
    pub matching: Queue<MatchingJob>,
    pub webhooks: Queue<WebhookJob>,
    /// `TROUPE_QUEUE_PREFIX`, which the queues' full names start with.
    prefix: String,
    /// The distributed shape's Redis, whose push announcements the workers subscribe to.
    redis: Option<RedisServer>,
}

impl Queues {
    /// The SQLite queues share the service's own pool (and so its file). apalis' setup also
    /// switches its connection to `synchronous=OFF`, so it runs on a throwaway connection and
    /// the service's own connections keep their durability settings.
    pub async fn sqlite(pool: &SqlitePool, config: &Config) -> Result<Self, QueueError> {
        let setup_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with((*pool.connect_options()).clone())
            .await
            .map_err(apalis_sqlite::Error::from)?;
        SqliteStorage::setup(&setup_pool).await?;
        setup_pool.close().await;
        Ok(Queues {
            simulations: Queue::sqlite(pool, config),
            enrichment: Queue::sqlite(pool, config),
            matching: Queue::sqlite(pool, config),
            webhooks: Queue::sqlite(pool, config),
            prefix: config.queue_prefix.clone(),
            redis: None,
        })
    }

    pub async fn redis(server: &RedisServer, config: &Config) -> Result<Self, QueueError> {
        let conn = server.connection().await?;
        Ok(Queues {
            simulations: Queue::redis(conn.clone(), config),
            enrichment: Queue::redis(conn.clone(), config),
            matching: Queue::redis(conn.clone(), config),
            webhooks: Queue::redis(conn, config),
            prefix: config.queue_prefix.clone(),
            redis: Some(server.clone()),
        })
    }

    /// Until `shutdown`: rings each queue's bell when Redis announces a push to it, so this
    /// process's consumers pick the job up at once (the embedded shape's pushers ring the bells
    /// themselves, so there this returns at once).
    pub async fn hear_arrivals(&self, shutdown: CancellationToken) {
        let Some(server) = self.redis.clone() else {
            return;
        };
        let bells = [
            (self.simulations.announcements(), &self.simulations.bell),
            (self.enrichment.announcements(), &self.enrichment.bell),
            (self.matching.announcements(), &self.matching.bell),
            (self.webhooks.announcements(), &self.webhooks.bell),
        ]
        .into_iter()
        .filter_map(|(channel, bell)| Some((channel?, bell.clone())))
        .collect();
        wake::hear_redis(server, bells, shutdown).await;
    }

    /// The distributed shape's Redis connection, which other shared state (rate limits, the
    /// response cache) also uses.
    pub fn redis_connection(&self) -> Option<ConnectionManager> {
        match self.simulations.clone().storage {
            Storage::Redis(mut storage) => Some(storage.get_connection().clone()),
            Storage::Sqlite(_) => None,
        }
    }

    /// Empties the shared cache of model responses kept under `prefix` (an erasure's last step:
    /// entries cannot be traced to the personas they were made for); nothing to do embedded,
    /// where the cache is a table the erasure's transaction empties.
    pub async fn forget_cached_responses(&self, prefix: &str) -> Result<u64, QueueError> {
        match self.redis_connection() {
            Some(mut redis) => delete_keys_under(&mut redis, prefix)
                .await
                .map_err(QueueError::Cache),
            None => Ok(0),
        }
    }

    fn name(&self, queue: &str) -> String {
        format!("{}:{queue}", self.prefix)
    }

    /// Jobs waiting on each queue (not yet taken by a worker), by the queue's short name.
    pub async fn depths(&self) -> Result<Vec<(&'static str, u64)>, QueueError> {
        Ok(vec![
            (
                SimulationJob::QUEUE,
                self.simulations
                    .depth(&self.name(SimulationJob::QUEUE))
                    .await?,
            ),
            (
                EnrichmentJob::QUEUE,
                self.enrichment
                    .depth(&self.name(EnrichmentJob::QUEUE))
                    .await?,
            ),
            (
                MatchingJob::QUEUE,
                self.matching.depth(&self.name(MatchingJob::QUEUE)).await?,
            ),
            (
                WebhookJob::QUEUE,
                self.webhooks.depth(&self.name(WebhookJob::QUEUE)).await?,
            ),
        ])
    }

    /// Readiness: the queues' backend answers.
    pub async fn ping(&self) -> Result<(), QueueError> {
        match self.simulations.clone().storage {
            Storage::Sqlite(storage) => {
                sqlx::query("SELECT 1")
                    .execute(storage.pool())
                    .await
                    .map_err(apalis_sqlite::Error::from)?;
            }
            Storage::Redis(mut storage) => {
                let mut conn = storage.get_connection().clone();
                redis::cmd("PING").query_async::<String>(&mut conn).await?;
            }
        }
        Ok(())
    }
}

/// Deletes every key under `prefix:` (SCAN, then UNLINK in batches); returns how many.
async fn delete_keys_under(
    conn: &mut ConnectionManager,
    prefix: &str,
) -> Result<u64, redis::RedisError> {
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        if !keys.is_empty() {
            deleted += redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<u64>(conn)
                .await?;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}
