//! The worker role: apalis workers that consume the job queues and run simulations.

pub mod engine;
pub mod llm;
mod simulation;

use std::sync::Arc;

use apalis::prelude::*;
use tokio_util::sync::CancellationToken;
use troupe_shared::{
    Config, Store, config::LlmProvider, jobs::SimulationJob, queue::SimulationQueue,
};

pub use simulation::{SimulationDeps, run_simulation};

use crate::{
    engine::Responder,
    llm::{Endpoint, Gateway, Limits, ProviderClient, RateLimiter, ResponseCache},
};

/// Pause before a worker that stopped on an error is started again.
const RESTART_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("LLM client: {0}")]
    Llm(#[from] llm::LlmError),
}

/// The persona model the configuration asks for. With a provider, its rate limits and response
/// cache live in Redis when the deployment has one (shared by every worker), else in process and
/// in the SQLite file.
pub fn responder(
    config: &Config,
    store: &Store,
    queue: &SimulationQueue,
) -> Result<Responder, llm::LlmError> {
    let llm = &config.llm;
    let endpoint = match &llm.provider {
        LlmProvider::Offline => return Ok(Responder::Offline),
        LlmProvider::OpenAi { base_url, api_key } => Endpoint::OpenAi {
            base_url: base_url.clone(),
            api_key: api_key.clone(),
        },
        LlmProvider::Azure {
            base_url,
            api_key,
            api_version,
        } => Endpoint::Azure {
            deployment_url: base_url.clone(),
            api_key: api_key.clone(),
            api_version: api_version.clone(),
        },
    };
    let redis = queue.redis_connection();
    let budget_key = format!("{}:llm:{}", config.queue_prefix, endpoint.budget_id());
    let limiter = RateLimiter::new(
        Limits {
            rpm: llm.rpm,
            tpm: llm.tpm,
        },
        redis.clone().map(|conn| (conn, budget_key)),
    );
    let cache = match (llm.cache_ttl.is_zero(), redis) {
        (true, _) => ResponseCache::Off,
        (false, Some(conn)) => ResponseCache::Shared {
            conn,
            prefix: format!("{}:llm-cache", config.queue_prefix),
            ttl: llm.cache_ttl,
        },
        (false, None) => ResponseCache::Local {
            store: store.clone(),
            ttl: llm.cache_ttl,
        },
    };
    let client = ProviderClient::new(endpoint, llm.timeout)?;
    Ok(Responder::Llm(Arc::new(Gateway::new(
        client, llm, limiter, cache,
    ))))
}

/// A name no other live worker has: apalis refuses a name still heartbeating, and a reused name
/// breaks orphan recovery.
pub fn unique_worker_name() -> String {
    format!("troupe-worker-{}-{}", std::process::id(), ulid::Ulid::new())
}

/// Each job runs on a task of its own so that concurrent simulations use every core (apalis'
/// `parallelize(tokio::spawn)` does the same, but its future fails rustc's `Send` inference when
/// the worker itself is spawned).
async fn handle(job: SimulationJob, deps: Data<Arc<SimulationDeps>>) -> Result<(), BoxDynError> {
    let deps: Arc<SimulationDeps> = (*deps).clone();
    let simulation_id = job.simulation_id;
    tokio::spawn(async move { run_simulation(&job, &deps).await })
        .await?
        .map_err(|e| {
            tracing::error!(simulation = %simulation_id, error = %e, "simulation job failed; it will be redelivered");
            e.into()
        })
}

/// Runs the simulation worker until `shutdown` fires, then drains: in-flight simulations finish,
/// and jobs fetched but not started are released to the queue. A worker that stops on a backend
/// error (the database or Redis went away) is restarted under a new name after a pause, rather
/// than taking the process down.
pub async fn run(
    config: &Config,
    store: Store,
    queue: SimulationQueue,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    let responder = responder(config, &store, &queue)?;
    while !shutdown.is_cancelled() {
        let deps = Arc::new(SimulationDeps {
            responder: responder.clone(),
            store: store.clone(),
            worker_name: unique_worker_name(),
            max_attempts: config.worker.max_attempts,
            agent_parallelism: config.worker.agent_parallelism,
        });
        match run_once(config, queue.clone(), deps, shutdown.clone()).await {
            Ok(()) => break,
            Err(e) => {
                tracing::error!(error = %e, "worker stopped on an error; restarting");
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(RESTART_PAUSE) => {}
                }
            }
        }
    }
    Ok(())
}

async fn run_once(
    config: &Config,
    queue: SimulationQueue,
    deps: Arc<SimulationDeps>,
    shutdown: CancellationToken,
) -> Result<(), apalis::prelude::WorkerError> {
    let name = deps.worker_name.clone();
    let poll = config.worker.poll_interval;
    let concurrency = config.worker.concurrency;
    let signal = async move {
        shutdown.cancelled().await;
        Ok::<(), std::io::Error>(())
    };
    tracing::info!(worker = %name, concurrency, "worker started");
    // The two backends are different types; the worker is built the same way on each. Polling
    // at `poll` (not apalis' 30 s heartbeat) is what makes pick-up immediate.
    macro_rules! run_on {
        ($storage:expr) => {
            WorkerBuilder::new(name.as_str())
                .backend($storage.poll_with_interval(poll))
                .data(deps)
                .concurrency(concurrency)
                .build(handle)
                .run_until(signal)
                .await
        };
    }
    match queue {
        SimulationQueue::Sqlite(storage) => run_on!(storage)?,
        SimulationQueue::Redis(storage) => run_on!(storage)?,
    }
    tracing::info!(worker = %name, "worker stopped");
    Ok(())
}
