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

use crate::{engine::Responder, llm::LlmClient};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("LLM client: {0}")]
    Llm(#[from] llm::LlmError),
    #[error("worker stopped: {0}")]
    Apalis(#[from] apalis::prelude::WorkerError),
}

/// The persona model the configuration asks for.
pub fn responder(config: &Config) -> Result<Responder, llm::LlmError> {
    Ok(match &config.llm.provider {
        LlmProvider::Offline => Responder::Offline,
        LlmProvider::OpenAi { base_url, api_key } => Responder::Llm(LlmClient::new(
            base_url,
            api_key.clone(),
            &config.llm.model,
            config.llm.timeout,
        )?),
    })
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
/// and jobs fetched but not started are released to the queue.
pub async fn run(
    config: &Config,
    store: Store,
    queue: SimulationQueue,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    let name = unique_worker_name();
    let deps = Arc::new(SimulationDeps {
        store,
        responder: responder(config)?,
        worker_name: name.clone(),
        max_attempts: config.worker.max_attempts,
        agent_parallelism: config.worker.agent_parallelism,
    });
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
