//! Troupe's composition root: builds the store and queues from the configuration and runs the
//! requested roles (API, worker, scheduler) under one shutdown token.

pub mod client;
pub mod demo;
pub mod doctor;
pub mod outcomes_import;
pub mod telemetry;
pub mod tls;

use std::net::SocketAddr;

use anyhow::Context;
use chrono::Timelike;
use poem::listener::AcceptorExt;
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;
use troupe_api::{ApiState, ScheduledSimulations};
use troupe_shared::{
    Config, Store,
    domain::MatchRun,
    jobs::MatchingJob,
    queue::{Queues, RedisServer},
};
use troupe_worker::matching::{MatchingDeps, run_match};

/// Which roles this process runs. The embedded shape runs all three.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub api: bool,
    pub worker: bool,
    pub scheduler: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        api: true,
        worker: true,
        scheduler: true,
    };
    pub const API: Roles = Roles {
        api: true,
        worker: false,
        scheduler: false,
    };
    pub const WORKER: Roles = Roles {
        api: false,
        worker: true,
        scheduler: false,
    };
    pub const SCHEDULER: Roles = Roles {
        api: false,
        worker: false,
        scheduler: true,
    };
}

pub struct App {
    config: Config,
    roles: Roles,
    store: Store,
    queues: Queues,
    listener: Option<TcpListener>,
    /// HTTPS for the listener, when configured.
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

/// Connects to the database and applies migrations, and to the queues' backend (whose SQLite
/// tables it creates).
pub async fn connect(config: &Config) -> anyhow::Result<(Store, Queues)> {
    let store = Store::connect(config)
        .await
        .with_context(|| format!("connecting to {}", redact(&config.database_url)))?;
    store.migrate().await.context("applying migrations")?;
    let redis = RedisServer::configured(config)?;
    let queues = match (&redis, store.sqlite_pool()) {
        (Some(server), _) => Queues::redis(server, config).await.with_context(|| {
            format!(
                "connecting to {}",
                redact(config.redis_url.as_deref().unwrap_or_default())
            )
        })?,
        (None, Some(pool)) => Queues::sqlite(pool, config).await?,
        (None, None) => anyhow::bail!("no queue backend: set TROUPE_REDIS_URL"),
    };
    Ok((store, queues))
}

impl App {
    /// Connects, migrates, and binds the API's listener (so `local_addr` is known before `run`).
    pub async fn build(config: Config, roles: Roles) -> anyhow::Result<App> {
        let (store, queues) = connect(&config).await?;
        let listener = if roles.api {
            Some(
                TcpListener::bind(config.bind)
                    .await
                    .with_context(|| format!("binding {}", config.bind))?,
            )
        } else {
            None
        };
        // Read at start, so that a bad certificate stops the process before it takes work.
        let tls = match (&config.tls, roles.api) {
            (Some(tls), true) => Some(tls::server_config(tls)?),
            _ => None,
        };
        Ok(App {
            config,
            roles,
            store,
            queues,
            listener,
            tls,
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Runs the roles until `shutdown` fires or one of them stops; then stops the others
    /// gracefully and waits for them.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let App {
            config,
            roles,
            store,
            queues,
            listener,
            tls,
        } = self;
        let mut roles_running: JoinSet<(&'static str, anyhow::Result<()>)> = JoinSet::new();
        if let Some(listener) = listener {
            let state = api_state(&config, &store, &queues, &shutdown);
            let app = troupe_api::app(state, &config);
            let signal = shutdown.clone();
            roles_running.spawn(async move {
                let result = async {
                    let tcp = poem::listener::TcpAcceptor::from_tokio(listener)?;
                    let acceptor = match tls {
                        Some(config) => tls::TlsAcceptor::new(tcp, config).boxed(),
                        None => tcp.boxed(),
                    };
                    poem::Server::new_with_acceptor(acceptor)
                        .run_with_graceful_shutdown(
                            app,
                            signal.cancelled_owned(),
                            Some(std::time::Duration::from_secs(10)),
                        )
                        .await
                }
                .await;
                ("api", result.map_err(anyhow::Error::from))
            });
            let (store, signal) = (store.clone(), shutdown.clone());
            roles_running.spawn(async move {
                troupe_api::chain_reads(store, signal).await;
                ("audit chainer", Ok(()))
            });
        }
        if let Some(addr) = config.metrics_bind.filter(|_| !roles.api) {
            let signal = shutdown.clone();
            roles_running.spawn(async move {
                (
                    "metrics",
                    telemetry::serve_metrics(addr, signal)
                        .await
                        .map_err(anyhow::Error::from),
                )
            });
        }
        if roles.worker {
            let (config, store, queues, signal) = (
                config.clone(),
                store.clone(),
                queues.clone(),
                shutdown.clone(),
            );
            roles_running.spawn(async move {
                (
                    "worker",
                    // Boxed: the worker's future is large, and it is made once per process.
                    Box::pin(troupe_worker::run(&config, store, queues, signal))
                        .await
                        .map_err(anyhow::Error::from),
                )
            });
        }
        if roles.scheduler {
            let (config, store, queues, signal) = (
                config.clone(),
                store.clone(),
                queues.clone(),
                shutdown.clone(),
            );
            let scheduled =
                ScheduledSimulations::new(api_state(&config, &store, &queues, &shutdown), &config);
            let fire = troupe_scheduler::FireSchedules::new(move |now| {
                let scheduled = scheduled.clone();
                Box::pin(async move { Ok(scheduled.fire_due(now).await?) })
            });
            roles_running.spawn(async move {
                (
                    "scheduler",
                    // Boxed, like the worker's: a large future, made once per process.
                    Box::pin(troupe_scheduler::run(&config, store, queues, fire, signal))
                        .await
                        .map_err(anyhow::Error::from),
                )
            });
        }
        let mut first_error = None;
        while let Some(joined) = roles_running.join_next().await {
            let (role, result) = joined.context("a role panicked")?;
            match result {
                Ok(()) if shutdown.is_cancelled() => tracing::info!(role, "stopped"),
                Ok(()) => tracing::warn!(role, "stopped unexpectedly; shutting down the others"),
                Err(ref e) => tracing::error!(
                    role,
                    error = format!("{e:#}"),
                    "failed; shutting down the others"
                ),
            }
            if let Err(e) = result {
                first_error.get_or_insert(e.context(format!("{role} role failed")));
            }
            shutdown.cancel();
        }
        store.close().await;
        first_error.map_or(Ok(()), Err)
    }
}

/// What the API's handlers (and the scheduler, which plans stored requests as they do) work with.
fn api_state(
    config: &Config,
    store: &Store,
    queues: &Queues,
    shutdown: &CancellationToken,
) -> ApiState {
    ApiState {
        store: store.clone(),
        queues: queues.clone(),
        idempotency_ttl: config.idempotency_ttl,
        token_budgets: (config.llm.default_token_budget, config.llm.max_token_budget),
        limits: config.limits,
        metrics: telemetry::metrics(),
        webhook_allow_private: config.webhooks.allow_private,
        response_cache_prefix: config.response_cache_prefix(),
        accuracy_calibration_min: config.accuracy_calibration_min,
        shutdown: shutdown.clone(),
    }
}

/// Runs one brokerage's nightly matching now, in this process (`troupe matching run`): the same
/// run the schedule creates, for the current millisecond's slot.
pub async fn run_nightly_now(config: &Config, brokerage: &str) -> anyhow::Result<MatchRun> {
    let (store, queues) = connect(config).await?;
    let brokerage_id = store
        .brokerage_id(brokerage)
        .await?
        .with_context(|| format!("no brokerage is named {brokerage:?}"))?;
    // Millisecond slots: two runs by hand in the same second are two runs.
    let now = chrono::Utc::now();
    let slot = now
        .with_nanosecond(now.timestamp_subsec_millis() * 1_000_000)
        .unwrap_or(now);
    let params = troupe_scheduler::nightly_params(config);
    let (run, request) = store
        .create_nightly_run(brokerage_id, &params, slot)
        .await?
        .context("a nightly run for this instant exists already; try again")?;
    // This process runs it: no worker is to be handed the same run.
    store.delete_job_requests(&[request.id]).await?;
    let deps = MatchingDeps::new(
        store.clone(),
        troupe_worker::responder(config, &store, &queues)?,
        config.matching.clone(),
        config.worker.max_attempts,
        config.llm.default_token_budget,
        troupe_worker::sentence_model::load(config)?,
    );
    let job = MatchingJob {
        run_id: run.id,
        brokerage_id,
    };
    run_match(&job, &deps).await?;
    let run = store
        .get_match_run(brokerage_id, run.id)
        .await?
        .context("the run vanished")?;
    store.close().await;
    Ok(run)
}

/// A connection string fit for logs: no password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
