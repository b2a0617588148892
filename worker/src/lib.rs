//! The worker role: apalis workers that consume the job queues and run simulations.

pub mod engine;
pub mod enrichment;
pub mod job_dispatch;
pub mod llm;
pub mod matching;
pub mod sentence_model;
mod simulation;
pub mod webhooks;

use std::sync::Arc;
use troupe_shared::causes::Causes;

use apalis::prelude::*;
use tokio_util::sync::CancellationToken;
use troupe_shared::{
    Config, Store,
    config::LlmProvider,
    jobs::{EnrichmentJob, MatchingJob, SimulationJob, WebhookJob},
    queue::{Queue, Queues, Storage},
};

pub use simulation::{SimulationDeps, run_simulation};

use crate::{
    engine::Responder,
    enrichment::{EnrichmentDeps, run_enrichment},
    llm::{Endpoint, Gateway, Limits, ProviderClient, RateLimiter, ResponseCache},
    matching::{MatchingDeps, run_match},
    webhooks::WebhookDeps,
};

/// Pause before a worker that stopped on an error is started again.
const RESTART_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("LLM client")]
    Llm(#[from] llm::LlmError),
    #[error("webhook client")]
    Webhooks(#[from] reqwest::Error),
    #[error("loading the embedding model (TROUPE_EMBEDDING_MODEL_DIR)")]
    EmbeddingModel(#[from] sentence_model::SentenceModelError),
}

/// The provider endpoint the configuration names; `None` for the offline model.
pub fn endpoint(provider: &LlmProvider) -> Option<Endpoint> {
    match provider {
        LlmProvider::Offline => None,
        LlmProvider::OpenAi { base_url, api_key } => Some(Endpoint::OpenAi {
            base_url: base_url.clone(),
            api_key: api_key.clone(),
        }),
        LlmProvider::Azure {
            base_url,
            api_key,
            api_version,
        } => Some(Endpoint::Azure {
            deployment_url: base_url.clone(),
            api_key: api_key.clone(),
            api_version: api_version.clone(),
        }),
    }
}

/// The persona model the configuration asks for. With a provider, its rate limits and response
/// cache live in Redis when the deployment has one (shared by every worker), else in process and
/// in the SQLite file.
pub fn responder(
    config: &Config,
    store: &Store,
    queues: &Queues,
) -> Result<Responder, llm::LlmError> {
    let llm = &config.llm;
    let Some(endpoint) = endpoint(&llm.provider) else {
        return Ok(Responder::Offline);
    };
    let redis = queues.redis_connection();
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
            prefix: config.response_cache_prefix(),
            ttl: llm.cache_ttl,
            store: store.clone(),
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
            tracing::error!(simulation = %simulation_id, error = %Causes(&e), "simulation job failed; it will be redelivered");
            e.into()
        })
}

async fn handle_enrichment(
    job: EnrichmentJob,
    deps: Data<Arc<EnrichmentDeps>>,
) -> Result<(), BoxDynError> {
    let deps: Arc<EnrichmentDeps> = (*deps).clone();
    let enrichment_id = job.enrichment_id;
    tokio::spawn(async move { run_enrichment(&job, &deps).await })
        .await?
        .map_err(|e| {
            tracing::error!(enrichment = %enrichment_id, error = %Causes(&e), "enrichment job failed; it will be redelivered");
            e.into()
        })
}

async fn handle_match(job: MatchingJob, deps: Data<Arc<MatchingDeps>>) -> Result<(), BoxDynError> {
    let deps: Arc<MatchingDeps> = (*deps).clone();
    let run_id = job.run_id;
    tokio::spawn(async move { run_match(&job, &deps).await })
        .await?
        .map_err(|e| {
            tracing::error!(run = %run_id, error = %Causes(&e), "match job failed; it will be redelivered");
            e.into()
        })
}

async fn handle_webhook(job: WebhookJob, deps: Data<Arc<WebhookDeps>>) -> Result<(), BoxDynError> {
    let deps: Arc<WebhookDeps> = (*deps).clone();
    let delivery_id = job.delivery_id;
    tokio::spawn(async move { webhooks::deliver(&job, &deps).await })
        .await?
        .map_err(|e| {
            tracing::error!(delivery = %delivery_id, error = %Causes(&e), "webhook job failed; it will be redelivered");
            e.into()
        })
}

/// Runs a worker on each queue until `shutdown` fires, then drains: in-flight jobs finish, and
/// jobs fetched but not started are released to the queue. A worker that stops on a backend
/// error (the database or Redis went away) is restarted under a new name after a pause, rather
/// than taking the process down.
pub async fn run(
    config: &Config,
    store: Store,
    queues: Queues,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    let responder = responder(config, &store, &queues)?;
    let sentence_model = sentence_model::load(config)?;
    let matching = Arc::new(MatchingDeps::new(
        store.clone(),
        responder.clone(),
        config.matching.clone(),
        config.worker.max_attempts,
        config.llm.default_token_budget,
        sentence_model.clone(),
    ));
    let simulations = supervise(&shutdown, |name| {
        let deps = Arc::new(SimulationDeps {
            responder: responder.clone(),
            store: store.clone(),
            worker_name: name.clone(),
            max_attempts: config.worker.max_attempts,
            agent_parallelism: config.worker.agent_parallelism,
            queue: queues.simulations.clone(),
            sentence_model: sentence_model.clone(),
        });
        consume(
            config,
            queues.simulations.clone(),
            name,
            deps,
            handle,
            shutdown.clone(),
        )
    });
    let enrichment = Arc::new(EnrichmentDeps {
        store: store.clone(),
        responder: responder.clone(),
        token_budget: config.llm.default_token_budget,
    });
    let enrichments = supervise(&shutdown, |name| {
        consume(
            config,
            queues.enrichment.clone(),
            name,
            enrichment.clone(),
            handle_enrichment,
            shutdown.clone(),
        )
    });
    let matches = supervise(&shutdown, |name| {
        consume(
            config,
            queues.matching.clone(),
            name,
            matching.clone(),
            handle_match,
            shutdown.clone(),
        )
    });
    let deliveries = Arc::new(WebhookDeps {
        store: store.clone(),
        sender: webhooks::Sender::new(&config.webhooks)?,
        config: config.webhooks.clone(),
    });
    let webhook_attempts = supervise(&shutdown, |name| {
        consume(
            config,
            queues.webhooks.clone(),
            name,
            deliveries.clone(),
            handle_webhook,
            shutdown.clone(),
        )
    });
    let dispatcher = webhooks::dispatch(
        store.clone(),
        queues.webhooks.clone(),
        config.webhooks.clone(),
        shutdown.clone(),
    );
    let job_dispatcher = job_dispatch::dispatch(
        store.clone(),
        queues.clone(),
        config.worker.clone(),
        shutdown.clone(),
    );
    let arrivals = queues.hear_arrivals(shutdown.clone());
    tokio::join!(
        arrivals,
        simulations,
        enrichments,
        matches,
        webhook_attempts,
        dispatcher,
        job_dispatcher
    );
    Ok(())
}

/// Runs `run_once` under a fresh worker name until it ends cleanly (on shutdown).
async fn supervise<F, Fut>(shutdown: &CancellationToken, mut run_once: F)
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(), apalis::prelude::WorkerError>>,
{
    while !shutdown.is_cancelled() {
        match run_once(unique_worker_name()).await {
            Ok(()) => break,
            Err(e) => {
                tracing::error!(error = %Causes(&e), "worker stopped on an error; restarting");
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(RESTART_PAUSE) => {}
                }
            }
        }
    }
}

/// One apalis worker on `queue`: woken by the queue's arrivals, and polling at the configured
/// interval as well (not apalis' 30 s heartbeat) for what no bell announces: retries coming due,
/// jobs recovered from dead workers, pushes missed while the subscription was down.
async fn consume<J, D, H, Fut>(
    config: &Config,
    queue: Queue<J>,
    name: String,
    deps: Arc<D>,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), apalis::prelude::WorkerError>
where
    J: troupe_shared::jobs::Job,
    D: Send + Sync + 'static,
    H: Fn(J, Data<Arc<D>>) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<(), BoxDynError>> + Send + 'static,
{
    let wake = Strategy::new()
        .stream(queue.arrivals())
        .interval(config.worker.poll_interval);
    let concurrency = config.concurrency(J::QUEUE);
    let signal = async move {
        shutdown.cancelled().await;
        Ok::<(), std::io::Error>(())
    };
    tracing::info!(worker = %name, queue = J::QUEUE, concurrency, "worker started");
    // The two backends are different types; the worker is built the same way on each.
    macro_rules! run_on {
        ($storage:expr) => {
            WorkerBuilder::new(name.as_str())
                .backend($storage.poll_with_strategy(wake))
                .data(deps)
                .concurrency(concurrency)
                .build(handler)
                .run_until(signal)
                .await
        };
    }
    match queue.storage {
        Storage::Sqlite(storage) => run_on!(storage)?,
        Storage::Redis(storage) => run_on!(storage)?,
    }
    tracing::info!(worker = %name, "worker stopped");
    Ok(())
}
