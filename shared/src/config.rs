//! The one typed configuration, loaded from `TROUPE_*` variables and validated once at start-up.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use secrecy::SecretString;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}: {reason}")]
    Invalid { var: &'static str, reason: String },
}

/// Which database the service keeps its data in; the scheme of `TROUPE_DATABASE_URL` decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the master key that wraps the data-encryption keys comes from.
#[derive(Debug, Clone)]
pub enum EncryptionKeySource {
    /// `TROUPE_ENCRYPTION_KEY`: 32 bytes, base64.
    Inline(SecretString),
    /// `TROUPE_ENCRYPTION_KEY_FILE`, or the embedded default beside the SQLite file, which is
    /// created (mode 0600) on first start when `create` is set.
    File { path: PathBuf, create: bool },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub encryption_key: EncryptionKeySource,
    /// The master key `troupe encryption rewrap` re-wraps the data keys under
    /// (`TROUPE_NEW_ENCRYPTION_KEY`, base64); no process serves with it until restarted so.
    pub new_encryption_key: Option<SecretString>,
    /// PostgreSQL connections one process keeps (SQLite has one writer; its pool is fixed).
    pub database_pool_size: u32,
    /// How long a request waits for a PostgreSQL connection before it answers 503: an outage
    /// (or a pool exhausted for this long) is told to the client quickly, not after a hang.
    pub database_acquire_timeout: Duration,
    pub redis_url: Option<String>,
    /// A private certificate authority (PEM file) a `rediss://` Redis's certificate is checked
    /// against (`TROUPE_REDIS_CA_CERT`); without it, the system's trusted roots.
    pub redis_ca_cert: Option<PathBuf>,
    pub bind: SocketAddr,
    /// HTTPS for the API (`TROUPE_TLS_CERT` and `TROUPE_TLS_KEY`); plain HTTP without.
    pub tls: Option<TlsConfig>,
    /// The address people reach the web workspace at (`TROUPE_PUBLIC_URL`), for the links in
    /// invitations; without it a link is built from the address the request came to.
    pub public_url: Option<String>,
    /// Where a process without the API (a distributed worker or scheduler) serves `/metrics`.
    pub metrics_bind: Option<SocketAddr>,
    /// Prepended to every queue name; apalis-redis has no key prefix, so this is how deployments
    /// (and parallel tests) sharing one Redis keep their queues apart.
    pub queue_prefix: String,
    pub worker: WorkerConfig,
    pub llm: LlmConfig,
    pub limits: SimulationLimits,
    pub matching: MatchingConfig,
    /// A sentence-embedding model's files (all-MiniLM-L6-v2) for similarity of meaning when no
    /// provider is configured — matching, and the themes of free-text answers; without it,
    /// words are compared.
    pub embedding_model_dir: Option<PathBuf>,
    pub webhooks: WebhookConfig,
    /// Trials (clients' events, campaign recipients) a kind of prediction needs before the
    /// accuracy report fits a calibration on the older ones and judges it on the newer.
    pub accuracy_calibration_min: u64,
    pub max_body_bytes: usize,
    pub idempotency_ttl: Duration,
    /// How long outbox events (and their webhook delivery log) are kept.
    pub event_retention: Duration,
    pub log_format: LogFormat,
    pub log_filter: String,
}

/// The highest `TROUPE_SIMULATION_MAX_AGENTS` may be set: the request schemas bound a panel's
/// `persona_ids` by it.
pub const MAX_AGENTS_CEILING: u32 = 5000;

/// What one simulation request may ask for; larger requests are refused at submission.
#[derive(Debug, Clone, Copy)]
pub struct SimulationLimits {
    /// Personas (stored and synthetic) in one simulation.
    pub max_agents: u32,
    /// Agent steps (personas × steps per persona × iterations) in one simulation.
    pub max_agent_steps: u64,
    /// Simulations one brokerage may have waiting or running; a submit beyond is a 429.
    pub max_active_per_brokerage: u32,
    /// Simulations of one brokerage in the job queue at once, not yet started; the rest wait in
    /// the store and go to the queue as these start. Another brokerage's new simulation is
    /// never behind more than this many of each other brokerage's.
    pub queue_share: u32,
}

/// The API's certificate and the oldest TLS version it accepts.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// PEM: the certificate, then its chain.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// `false` (the default): TLS 1.3 only; `true` also accepts TLS 1.2
    /// (`TROUPE_TLS_MIN_VERSION=1.2`).
    pub allow_tls12: bool,
}

#[derive(Debug, Clone)]
pub struct MatchingConfig {
    /// When the nightly run fires (cron with a seconds field, UTC).
    pub cron: String,
    /// How far over (or under) a client's budget a listing may be priced: 0.1 = 10%.
    pub budget_tolerance: f64,
    /// The nightly run reports matches scoring at least this.
    pub report_threshold: f64,
    /// The nightly run keeps at most this many new matches per listing.
    pub report_top_k: usize,
    /// How far past a named place's reach a listing still counts as in it, in km.
    pub place_allowance_km: f64,
}

/// Outbound webhook delivery.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Waits before each retry after the first attempt; a delivery fails after the last one.
    pub retry_schedule: Vec<Duration>,
    /// One attempt's whole request, connection included.
    pub timeout: Duration,
    /// Lets endpoints resolve to private, loopback and link-local addresses (tests, labs).
    pub allow_private: bool,
    /// An endpoint failing without a success for this long is disabled.
    pub disable_after: Duration,
    /// Bodies larger than this are not sent; the delivery fails with the reason.
    pub max_payload_bytes: usize,
    /// How often a worker looks for events to fan out and deliveries that are due (it is also
    /// woken at once by each committed event).
    pub poll_interval: Duration,
    /// Deliveries one worker process sends at once (they wait on the network, not the CPU).
    pub concurrency: usize,
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Simulations one worker process runs at once.
    pub concurrency: usize,
    /// How often an idle worker looks for new jobs (apalis' default is its 30 s heartbeat).
    pub poll_interval: Duration,
    pub heartbeat_interval: Duration,
    /// A worker silent for `heartbeat_interval × missed_heartbeats` is dead; its jobs are re-queued.
    pub missed_heartbeats: usize,
    /// Runs of one simulation (first run plus recoveries) before it is marked failed.
    pub max_attempts: u32,
    /// The most persona agents of one simulation calling the model at once; below it, as many
    /// as the provider key keeps busy.
    pub agent_parallelism: usize,
    /// How often the job dispatcher looks for job requests to push.
    pub job_sweep_interval: Duration,
    /// How long a pushed job of an unfinished run is trusted to a queue that can lose jobs
    /// (Redis) before it is pushed again; a push the queue already holds changes nothing.
    pub job_recheck_after: Duration,
}

#[derive(Debug, Clone)]
pub enum LlmProvider {
    /// The rule-based persona model: no network, no key; labelled as such in every result.
    Offline,
    /// Any OpenAI-compatible chat-completions endpoint.
    OpenAi {
        base_url: String,
        api_key: Option<SecretString>,
    },
    /// An Azure OpenAI deployment: `base_url` is the deployment URL, the key goes in `api-key`.
    Azure {
        base_url: String,
        api_key: Option<SecretString>,
        api_version: String,
    },
}

#[derive(Debug, Clone)]
pub struct LlmConfig {
    pub provider: LlmProvider,
    pub model: String,
    /// The provider's embeddings model (matching).
    pub embedding_model: String,
    pub timeout: Duration,
    /// The provider key's requests per minute, shared by every worker.
    pub rpm: u32,
    /// The provider key's tokens (prompt + completion) per minute, shared by every worker.
    pub tpm: u32,
    /// Attempts per call (the first plus retries) on 429, 5xx, timeouts and connection errors.
    pub max_attempts: usize,
    /// How long a cached response is reused; zero turns the cache off.
    pub cache_ttl: Duration,
    /// USD per million (prompt, completion) tokens, for the cost estimate.
    pub price_per_million: (f64, f64),
    /// Token budget of a simulation that names none.
    pub default_token_budget: u64,
    /// The largest budget a request may ask for.
    pub max_token_budget: u64,
}

/// Retries after the first attempt: about 27 hours in all, so a receiver down for a day still
/// gets every event.
pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";

/// The file of a `sqlite:` URL (none for PostgreSQL or an in-memory database).
fn sqlite_path(url: &str) -> Option<&str> {
    let path = url.strip_prefix("sqlite:")?;
    let path = path.strip_prefix("//").unwrap_or(path);
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// `"5s,5m,30m"` → durations (humantime syntax).
fn parse_schedule(raw: &str) -> Result<Vec<Duration>, ConfigError> {
    raw.split(',')
        .map(|step| {
            humantime::parse_duration(step.trim()).map_err(|e| {
                invalid(
                    "TROUPE_WEBHOOK_RETRY_SCHEDULE",
                    format!("{step:?} is not a duration: {e}"),
                )
            })
        })
        .collect()
}

impl Config {
    /// Loads from the given variables: the binary passes the process's (with its flags applied),
    /// tests their own map instead of mutating the process.
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        let env = Vars(vars);
        let database_url = env.string("TROUPE_DATABASE_URL", "sqlite://troupe.db");
        check_url(
            "TROUPE_DATABASE_URL",
            &database_url,
            &["sqlite", "postgres", "postgresql"],
        )?;
        let redis_url = env.optional("TROUPE_REDIS_URL");
        if let Some(url) = &redis_url {
            check_url("TROUPE_REDIS_URL", url, &["redis", "rediss"])?;
        }
        let redis_ca_cert = env.optional("TROUPE_REDIS_CA_CERT").map(PathBuf::from);
        if redis_ca_cert.is_some()
            && !redis_url
                .as_deref()
                .is_some_and(|u| u.starts_with("rediss://"))
        {
            return Err(invalid(
                "TROUPE_REDIS_CA_CERT",
                "is for a Redis reached over TLS: set TROUPE_REDIS_URL to a rediss:// address",
            ));
        }
        if let Some(url) = env.optional("TROUPE_LLM_BASE_URL") {
            check_url("TROUPE_LLM_BASE_URL", &url, &["http", "https"])?;
        }
        let api_key = env.optional("TROUPE_LLM_API_KEY").map(SecretString::from);
        let provider = match (
            env.optional("TROUPE_LLM_PROVIDER").as_deref(),
            env.optional("TROUPE_LLM_BASE_URL"),
        ) {
            (Some("offline"), _) | (None, None) => LlmProvider::Offline,
            (Some("openai") | None, Some(base_url)) => LlmProvider::OpenAi {
                base_url: base_url.trim_end_matches('/').to_owned(),
                api_key,
            },
            (Some("azure"), Some(base_url)) => LlmProvider::Azure {
                base_url: base_url.trim_end_matches('/').to_owned(),
                api_key,
                api_version: env.string("TROUPE_LLM_API_VERSION", "2024-10-21"),
            },
            (Some(kind @ ("openai" | "azure")), None) => {
                return Err(invalid(
                    "TROUPE_LLM_BASE_URL",
                    format!("required when TROUPE_LLM_PROVIDER={kind}"),
                ));
            }
            (Some(other), _) => {
                return Err(invalid(
                    "TROUPE_LLM_PROVIDER",
                    format!("unknown provider {other:?} (expected offline, openai or azure)"),
                ));
            }
        };
        let encryption_key = match (
            env.optional("TROUPE_ENCRYPTION_KEY"),
            env.optional("TROUPE_ENCRYPTION_KEY_FILE"),
        ) {
            (Some(key), None) => EncryptionKeySource::Inline(SecretString::from(key)),
            (None, Some(path)) => EncryptionKeySource::File {
                path: path.into(),
                create: false,
            },
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "TROUPE_ENCRYPTION_KEY_FILE",
                    "set TROUPE_ENCRYPTION_KEY or TROUPE_ENCRYPTION_KEY_FILE, not both",
                ));
            }
            (None, None) => match sqlite_path(&database_url) {
                Some(db) => EncryptionKeySource::File {
                    path: PathBuf::from(format!("{db}.key")),
                    create: true,
                },
                None => {
                    return Err(invalid(
                        "TROUPE_ENCRYPTION_KEY",
                        "required with PostgreSQL (every process must share one key; \
                         generate one with `openssl rand -base64 32`)",
                    ));
                }
            },
        };
        let config = Config {
            database_url,
            encryption_key,
            new_encryption_key: env
                .optional("TROUPE_NEW_ENCRYPTION_KEY")
                .map(SecretString::from),
            database_pool_size: env.parse("TROUPE_DATABASE_POOL_SIZE", "16")?,
            database_acquire_timeout: Duration::from_millis(
                env.parse("TROUPE_DATABASE_ACQUIRE_TIMEOUT_MS", "3000")?,
            ),
            redis_url,
            redis_ca_cert,
            bind: env.parse("TROUPE_BIND", "127.0.0.1:8080")?,
            tls: tls_config(&env)?,
            public_url: env
                .optional("TROUPE_PUBLIC_URL")
                .map(|url| {
                    check_url("TROUPE_PUBLIC_URL", &url, &["http", "https"])?;
                    Ok(url.trim_end_matches('/').to_owned())
                })
                .transpose()?,
            metrics_bind: env
                .optional("TROUPE_METRICS_BIND")
                .map(|raw| {
                    raw.parse().map_err(|e| {
                        invalid("TROUPE_METRICS_BIND", format!("{raw:?} is not valid: {e}"))
                    })
                })
                .transpose()?,
            queue_prefix: env.string("TROUPE_QUEUE_PREFIX", "troupe"),
            worker: WorkerConfig {
                concurrency: env.parse("TROUPE_WORKER_CONCURRENCY", "4")?,
                poll_interval: Duration::from_millis(env.parse("TROUPE_WORKER_POLL_MS", "50")?),
                heartbeat_interval: Duration::from_millis(
                    env.parse("TROUPE_WORKER_HEARTBEAT_MS", "2000")?,
                ),
                missed_heartbeats: env.parse("TROUPE_WORKER_MISSED_HEARTBEATS", "3")?,
                max_attempts: env.parse("TROUPE_JOB_MAX_ATTEMPTS", "3")?,
                agent_parallelism: env.parse("TROUPE_AGENT_PARALLELISM", "1024")?,
                job_sweep_interval: Duration::from_millis(
                    env.parse("TROUPE_JOB_SWEEP_MS", "2000")?,
                ),
                job_recheck_after: Duration::from_secs(env.parse("TROUPE_JOB_RECHECK_SECS", "60")?),
            },
            llm: LlmConfig {
                provider,
                model: env.string("TROUPE_LLM_MODEL", "gpt-4o-mini"),
                embedding_model: env.string("TROUPE_LLM_EMBEDDING_MODEL", "text-embedding-3-small"),
                timeout: Duration::from_secs(env.parse("TROUPE_LLM_TIMEOUT_SECS", "60")?),
                rpm: env.parse("TROUPE_LLM_RPM", "500")?,
                tpm: env.parse("TROUPE_LLM_TPM", "200000")?,
                max_attempts: env.parse("TROUPE_LLM_MAX_ATTEMPTS", "6")?,
                cache_ttl: Duration::from_secs(
                    3600 * env.parse::<u64>("TROUPE_LLM_CACHE_TTL_HOURS", "168")?,
                ),
                price_per_million: parse_price(
                    &env.string("TROUPE_LLM_PRICE_PER_MTOK", "0.15/0.60"),
                )?,
                default_token_budget: env.parse("TROUPE_SIMULATION_TOKEN_BUDGET", "2000000")?,
                max_token_budget: env.parse("TROUPE_SIMULATION_TOKEN_BUDGET_MAX", "50000000")?,
            },
            limits: SimulationLimits {
                max_agents: env.parse("TROUPE_SIMULATION_MAX_AGENTS", "200")?,
                max_agent_steps: env.parse("TROUPE_SIMULATION_MAX_STEPS", "20000")?,
                max_active_per_brokerage: env.parse("TROUPE_SIMULATION_MAX_ACTIVE", "2000")?,
                queue_share: env.parse("TROUPE_SIMULATION_QUEUE_SHARE", "2")?,
            },
            embedding_model_dir: env.optional("TROUPE_EMBEDDING_MODEL_DIR").map(Into::into),
            matching: MatchingConfig {
                cron: check_cron(
                    "TROUPE_MATCHING_CRON",
                    env.string("TROUPE_MATCHING_CRON", "0 0 2 * * *"),
                )?,
                budget_tolerance: env.parse("TROUPE_MATCHING_BUDGET_TOLERANCE", "0.1")?,
                report_threshold: env.parse("TROUPE_MATCHING_REPORT_THRESHOLD", "0.5")?,
                report_top_k: env.parse("TROUPE_MATCHING_REPORT_TOP_K", "10")?,
                place_allowance_km: env.parse("TROUPE_MATCHING_PLACE_ALLOWANCE_KM", "5")?,
            },
            accuracy_calibration_min: env
                .parse("TROUPE_ACCURACY_CALIBRATION_MIN_OUTCOMES", "50")?,
            webhooks: WebhookConfig {
                retry_schedule: parse_schedule(
                    &env.string("TROUPE_WEBHOOK_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE),
                )?,
                timeout: Duration::from_secs(env.parse("TROUPE_WEBHOOK_TIMEOUT_SECS", "10")?),
                allow_private: env.parse("TROUPE_WEBHOOK_ALLOW_PRIVATE", "false")?,
                disable_after: Duration::from_secs(
                    3600 * env.parse::<u64>("TROUPE_WEBHOOK_DISABLE_AFTER_HOURS", "120")?,
                ),
                max_payload_bytes: env.parse("TROUPE_WEBHOOK_MAX_PAYLOAD_BYTES", "262144")?,
                poll_interval: Duration::from_millis(env.parse("TROUPE_WEBHOOK_POLL_MS", "500")?),
                concurrency: env.parse("TROUPE_WEBHOOK_CONCURRENCY", "32")?,
            },
            max_body_bytes: env.parse("TROUPE_MAX_BODY_BYTES", "1048576")?,
            idempotency_ttl: Duration::from_secs(
                3600 * env.parse::<u64>("TROUPE_IDEMPOTENCY_TTL_HOURS", "24")?,
            ),
            event_retention: Duration::from_secs(
                86400 * env.parse::<u64>("TROUPE_EVENT_RETENTION_DAYS", "30")?,
            ),
            log_format: match env.string("TROUPE_LOG_FORMAT", "text").as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(invalid(
                        "TROUPE_LOG_FORMAT",
                        format!("{other:?} is not text or json"),
                    ));
                }
            },
            log_filter: env.string("TROUPE_LOG", "info"),
        };
        config.validate()?;
        Ok(config)
    }

    pub fn database_kind(&self) -> DatabaseKind {
        if self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://")
        {
            DatabaseKind::Postgres
        } else {
            DatabaseKind::Sqlite
        }
    }

    /// The shape is chosen by configuration alone: Redis present means the distributed shape.
    pub fn is_distributed(&self) -> bool {
        self.redis_url.is_some()
    }

    /// Jobs of `queue` one worker process runs at once.
    pub fn concurrency(&self, queue: &str) -> usize {
        if queue == <crate::jobs::WebhookJob as crate::jobs::Job>::QUEUE {
            self.webhooks.concurrency
        } else {
            self.worker.concurrency
        }
    }

    /// Where the distributed shape keeps cached model responses in Redis.
    pub fn response_cache_prefix(&self) -> String {
        format!("{}:llm-cache", self.queue_prefix)
    }

    /// The full name of a queue, e.g. `troupe:simulations`.
    pub fn queue_name(&self, queue: &str) -> String {
        format!("{}:{queue}", self.queue_prefix)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !self.database_url.starts_with("sqlite:")
            && self.database_kind() != DatabaseKind::Postgres
        {
            return Err(invalid(
                "TROUPE_DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if self.database_kind() == DatabaseKind::Postgres && self.redis_url.is_none() {
            return Err(invalid(
                "TROUPE_REDIS_URL",
                "required with a PostgreSQL database (the distributed shape queues jobs in Redis)",
            ));
        }
        if self.database_kind() == DatabaseKind::Sqlite && self.redis_url.is_some() {
            return Err(invalid(
                "TROUPE_DATABASE_URL",
                "the distributed shape (TROUPE_REDIS_URL set) needs PostgreSQL, not SQLite",
            ));
        }
        let worker = &self.worker;
        for (var, value) in [
            ("TROUPE_WORKER_CONCURRENCY", worker.concurrency),
            ("TROUPE_WORKER_MISSED_HEARTBEATS", worker.missed_heartbeats),
            ("TROUPE_JOB_MAX_ATTEMPTS", worker.max_attempts as usize),
            ("TROUPE_AGENT_PARALLELISM", worker.agent_parallelism),
            ("TROUPE_MAX_BODY_BYTES", self.max_body_bytes),
            (
                "TROUPE_SIMULATION_MAX_AGENTS",
                self.limits.max_agents as usize,
            ),
            (
                "TROUPE_SIMULATION_MAX_STEPS",
                self.limits.max_agent_steps as usize,
            ),
            (
                "TROUPE_SIMULATION_QUEUE_SHARE",
                self.limits.queue_share as usize,
            ),
            ("TROUPE_LLM_RPM", self.llm.rpm as usize),
            ("TROUPE_LLM_TPM", self.llm.tpm as usize),
            ("TROUPE_LLM_MAX_ATTEMPTS", self.llm.max_attempts),
            ("TROUPE_WEBHOOK_CONCURRENCY", self.webhooks.concurrency),
            (
                "TROUPE_DATABASE_POOL_SIZE",
                self.database_pool_size as usize,
            ),
            (
                "TROUPE_WEBHOOK_RETRY_SCHEDULE",
                self.webhooks.retry_schedule.len(),
            ),
        ] {
            if value == 0 {
                return Err(invalid(var, "must be at least 1"));
            }
        }
        if self.limits.max_agents > MAX_AGENTS_CEILING {
            return Err(invalid(
                "TROUPE_SIMULATION_MAX_AGENTS",
                format!("must be at most {MAX_AGENTS_CEILING}"),
            ));
        }
        if self.llm.default_token_budget == 0
            || self.llm.default_token_budget > self.llm.max_token_budget
        {
            return Err(invalid(
                "TROUPE_SIMULATION_TOKEN_BUDGET",
                "must be at least 1 and at most TROUPE_SIMULATION_TOKEN_BUDGET_MAX",
            ));
        }
        let matching = &self.matching;
        if !(0.0..=1.0).contains(&matching.budget_tolerance) {
            return Err(invalid(
                "TROUPE_MATCHING_BUDGET_TOLERANCE",
                "must be between 0 and 1",
            ));
        }
        if !(0.0..=1.0).contains(&matching.report_threshold) {
            return Err(invalid(
                "TROUPE_MATCHING_REPORT_THRESHOLD",
                "must be between 0 and 1",
            ));
        }
        if !(0.0..=500.0).contains(&matching.place_allowance_km) {
            return Err(invalid(
                "TROUPE_MATCHING_PLACE_ALLOWANCE_KM",
                "must be between 0 and 500",
            ));
        }
        if matching.report_top_k == 0 {
            return Err(invalid(
                "TROUPE_MATCHING_REPORT_TOP_K",
                "must be at least 1",
            ));
        }
        if self.webhooks.timeout.is_zero() || self.webhooks.poll_interval.is_zero() {
            return Err(invalid(
                "TROUPE_WEBHOOK_TIMEOUT_SECS / TROUPE_WEBHOOK_POLL_MS",
                "must be at least 1",
            ));
        }
        if worker.job_sweep_interval.is_zero() || worker.job_recheck_after.is_zero() {
            return Err(invalid(
                "TROUPE_JOB_SWEEP_MS / TROUPE_JOB_RECHECK_SECS",
                "must be at least 1",
            ));
        }
        if worker.poll_interval.is_zero() || worker.heartbeat_interval.is_zero() {
            return Err(invalid(
                "TROUPE_WORKER_POLL_MS / TROUPE_WORKER_HEARTBEAT_MS",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// `"0.15/0.60"`: USD per million prompt / completion tokens.
fn parse_price(raw: &str) -> Result<(f64, f64), ConfigError> {
    let bad = || {
        invalid(
            "TROUPE_LLM_PRICE_PER_MTOK",
            format!("{raw:?} is not PROMPT/COMPLETION, e.g. 0.15/0.60"),
        )
    };
    let (prompt, completion) = raw.split_once('/').ok_or_else(bad)?;
    let parse = |v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|p| p.is_finite() && *p >= 0.0)
    };
    Ok((
        parse(prompt).ok_or_else(bad)?,
        parse(completion).ok_or_else(bad)?,
    ))
}

fn tls_config(env: &Vars) -> Result<Option<TlsConfig>, ConfigError> {
    let allow_tls12 = match env.string("TROUPE_TLS_MIN_VERSION", "1.3").as_str() {
        "1.3" => false,
        "1.2" => true,
        other => {
            return Err(invalid(
                "TROUPE_TLS_MIN_VERSION",
                format!("{other:?} is not 1.3 or 1.2"),
            ));
        }
    };
    match (
        env.optional("TROUPE_TLS_CERT"),
        env.optional("TROUPE_TLS_KEY"),
    ) {
        (Some(cert), Some(key)) => Ok(Some(TlsConfig {
            cert: cert.into(),
            key: key.into(),
            allow_tls12,
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(invalid("TROUPE_TLS_KEY", "required with TROUPE_TLS_CERT")),
        (None, Some(_)) => Err(invalid("TROUPE_TLS_CERT", "required with TROUPE_TLS_KEY")),
    }
}

/// A URL every role can use: one of `schemes`, a host (a file path for SQLite), and no empty
/// port (`http://127.0.0.1:/v1` parses as a URL, but names no server).
fn check_url(var: &'static str, raw: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    let parsed =
        url::Url::parse(raw).map_err(|e| invalid(var, format!("{raw:?} is not a URL: {e}")))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(invalid(
            var,
            format!(
                "{raw:?} has the scheme {:?}; expected {}",
                parsed.scheme(),
                schemes.join(" or ")
            ),
        ));
    }
    if parsed.scheme() == "sqlite" {
        return Ok(());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(var, format!("{raw:?} names no host")));
    }
    let authority = raw.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or("")
    });
    // WHATWG parsing reads `http:///v1` as the host `v1`: the text itself must name one.
    if authority.is_empty() {
        return Err(invalid(var, format!("{raw:?} names no host")));
    }
    if authority.ends_with(':') {
        return Err(invalid(
            var,
            format!("{raw:?} has an empty port: give one after the colon, or drop the colon"),
        ));
    }
    Ok(())
}

/// A cron expression with a seconds field, checked where it is configured rather than only by
/// the role that schedules it.
fn check_cron(var: &'static str, expression: String) -> Result<String, ConfigError> {
    match expression.parse::<cron::Schedule>() {
        Ok(_) => Ok(expression),
        Err(e) => Err(invalid(
            var,
            format!(
                "{expression:?} is not a cron expression with a seconds field \
                 (sec min hour day-of-month month day-of-week [year], e.g. \"0 0 2 * * *\"): {e}"
            ),
        )),
    }
}

fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.into(),
    }
}

struct Vars(HashMap<String, String>);

impl Vars {
    fn optional(&self, var: &str) -> Option<String> {
        self.0.get(var).filter(|v| !v.trim().is_empty()).cloned()
    }

    fn string(&self, var: &str, default: &str) -> String {
        self.optional(var).unwrap_or_else(|| default.to_owned())
    }

    fn parse<T: FromStr>(&self, var: &'static str, default: &str) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let raw = self.string(var, default);
        raw.parse()
            .map_err(|e| invalid(var, format!("{raw:?} is not valid: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_are_the_embedded_shape_with_the_offline_model() {
        let config = load(&[]).unwrap();
        assert_eq!(config.database_kind(), DatabaseKind::Sqlite);
        assert!(!config.is_distributed());
        assert!(matches!(config.llm.provider, LlmProvider::Offline));
        assert_eq!(config.queue_name("simulations"), "troupe:simulations");
    }

    #[test]
    fn a_mistyped_url_or_cron_is_refused_naming_the_variable() {
        for (var, value, words) in [
            ("TROUPE_LLM_BASE_URL", "http://127.0.0.1:/v1", "empty port"),
            ("TROUPE_LLM_BASE_URL", "127.0.0.1:8080/v1", "not a URL"),
            (
                "TROUPE_LLM_BASE_URL",
                "ftp://models.example.com/v1",
                "scheme",
            ),
            ("TROUPE_LLM_BASE_URL", "http:///v1", "names no host"),
            (
                "TROUPE_DATABASE_URL",
                "mysql://db/troupe",
                "expected sqlite or postgres",
            ),
            ("TROUPE_MATCHING_CRON", "every night", "seconds field"),
            ("TROUPE_MATCHING_CRON", "0 2 * * *", "seconds field"),
        ] {
            let err = load(&[(var, value)]).unwrap_err().to_string();
            assert!(
                err.contains(var) && err.contains(words),
                "{var}={value}: {err}"
            );
        }
        let fine = load(&[
            ("TROUPE_LLM_BASE_URL", "https://api.openai.com/v1"),
            ("TROUPE_MATCHING_CRON", "0 30 1 * * *"),
        ]);
        assert!(fine.is_ok());
    }

    #[test]
    fn postgres_requires_redis() {
        let err = load(&[
            ("TROUPE_DATABASE_URL", "postgres://localhost/troupe"),
            ("TROUPE_ENCRYPTION_KEY", "a2V5"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("TROUPE_REDIS_URL"), "{err}");
    }

    #[test]
    fn postgres_requires_a_shared_encryption_key() {
        let err = load(&[
            ("TROUPE_DATABASE_URL", "postgres://localhost/troupe"),
            ("TROUPE_REDIS_URL", "redis://127.0.0.1"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("TROUPE_ENCRYPTION_KEY"), "{err}");
    }

    #[test]
    fn the_embedded_key_file_sits_beside_the_database() {
        let config = load(&[(
            "TROUPE_DATABASE_URL",
            "sqlite:///var/lib/troupe/data.db?mode=rwc",
        )])
        .unwrap();
        match config.encryption_key {
            EncryptionKeySource::File { path, create } => {
                assert_eq!(path, PathBuf::from("/var/lib/troupe/data.db.key"));
                assert!(create);
            }
            other => panic!("unexpected key source {other:?}"),
        }
    }

    #[test]
    fn redis_with_sqlite_is_refused() {
        assert!(load(&[("TROUPE_REDIS_URL", "redis://127.0.0.1")]).is_err());
    }

    #[test]
    fn a_redis_authority_needs_a_tls_address() {
        let postgres = ("TROUPE_DATABASE_URL", "postgres://db/troupe");
        let key = ("TROUPE_ENCRYPTION_KEY", "a2V5");
        let ca = ("TROUPE_REDIS_CA_CERT", "/etc/troupe/redis-ca.pem");
        let plain = load(&[
            postgres,
            key,
            ("TROUPE_REDIS_URL", "redis://redis:6379"),
            ca,
        ]);
        assert!(plain.unwrap_err().to_string().contains("rediss://"));
        let tls = load(&[
            postgres,
            key,
            ("TROUPE_REDIS_URL", "rediss://redis:6380"),
            ca,
        ])
        .unwrap();
        assert_eq!(
            tls.redis_ca_cert.as_deref(),
            Some(std::path::Path::new("/etc/troupe/redis-ca.pem"))
        );
    }

    #[test]
    fn a_base_url_selects_the_openai_provider() {
        let config = load(&[("TROUPE_LLM_BASE_URL", "http://localhost:11434/v1/")]).unwrap();
        match config.llm.provider {
            LlmProvider::OpenAi { base_url, .. } => {
                assert_eq!(base_url, "http://localhost:11434/v1");
            }
            other => panic!("unexpected provider {other:?}"),
        }
    }

    #[test]
    fn azure_needs_a_deployment_url_and_prices_parse() {
        assert!(load(&[("TROUPE_LLM_PROVIDER", "azure")]).is_err());
        let config = load(&[
            ("TROUPE_LLM_PROVIDER", "azure"),
            (
                "TROUPE_LLM_BASE_URL",
                "https://acme.openai.azure.com/openai/deployments/gpt4o",
            ),
            ("TROUPE_LLM_PRICE_PER_MTOK", "2.5/10"),
        ])
        .unwrap();
        assert!(
            matches!(config.llm.provider, LlmProvider::Azure { ref api_version, .. } if api_version == "2024-10-21")
        );
        assert_eq!(config.llm.price_per_million, (2.5, 10.0));
        assert!(load(&[("TROUPE_LLM_PRICE_PER_MTOK", "cheap")]).is_err());
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        let err = load(&[("TROUPE_WORKER_CONCURRENCY", "many")]).unwrap_err();
        assert!(
            err.to_string().starts_with("TROUPE_WORKER_CONCURRENCY"),
            "{err}"
        );
        assert!(load(&[("TROUPE_WORKER_CONCURRENCY", "0")]).is_err());
    }
}
