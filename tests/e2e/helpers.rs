//! The test harness: each test gets the real app on port 0 with its own database (a temporary
//! SQLite file, or a fresh PostgreSQL database that is dropped afterwards), its own Redis queue
//! prefix, its own mock LLM over HTTP, and typed request helpers. Nothing sleeps for a fixed
//! time: waits poll the API with a deadline.

use std::{
    collections::HashMap,
    process::Stdio,
    time::{Duration, Instant},
};

use mock_llm::{MockConfig, MockLlm};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;
use troupe::{App, Roles};
use troupe_shared::{Config, crypto::generate_master_key, domain::Role};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One process: API + worker + scheduler, SQLite file, apalis-sqlite.
    Embedded,
    /// API in the test process, workers as `troupe worker` child processes, PostgreSQL + Redis.
    Distributed,
}

pub struct Options {
    /// Worker processes of the distributed shape (and of an embedded `api_only` app).
    pub workers: usize,
    /// The embedded shape runs only the API in the test process, its workers as processes.
    pub api_only: bool,
    /// The distributed shape reaches PostgreSQL through this local port (a test's `CutLink`).
    pub postgres_port: Option<u16>,
    pub mock: MockConfig,
    /// Extra `TROUPE_*` settings.
    pub vars: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: 1,
            api_only: false,
            postgres_port: None,
            mock: MockConfig::default(),
            vars: Vec::new(),
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub key: String,
    pub mock: MockLlm,
    pub vars: HashMap<String, String>,
    pub workers: Vec<Child>,
    http: reqwest::Client,
    shutdown: CancellationToken,
    service: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Holds the SQLite file of the embedded shape until the test ends.
    _scratch: tempfile::TempDir,
    postgres_db: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts a problem+json answer with this status and returns its `type`.
    pub fn problem(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(content_type, "application/problem+json", "{}", self.body);
        assert_eq!(self.body["status"], status, "{}", self.body);
        assert!(
            !self.body["detail"].as_str().unwrap_or("").is_empty(),
            "{}",
            self.body
        );
        self.body["type"].as_str().unwrap_or_default().to_owned()
    }
}

/// `TEST_LOG=debug cargo test …` shows the service's logs (off by default: they would drown the
/// test output).
fn init_logging() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .init();
        }
    });
}

/// `host:port` of the tests' PostgreSQL.
pub fn postgres_address() -> String {
    let admin = postgres_admin_url();
    let (_, rest) = admin.rsplit_once('@').expect("user@host in URL");
    rest[..rest.find('/').expect("database in URL")].to_owned()
}

fn postgres_admin_url() -> String {
    std::env::var("TROUPE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn redis_url() -> String {
    std::env::var("TROUPE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

impl TestApp {
    pub async fn spawn(shape: Shape) -> TestApp {
        Self::spawn_with(shape, Options::default()).await
    }

    /// For tests of the API alone: the distributed shape starts no worker process.
    pub async fn spawn_api_only(shape: Shape) -> TestApp {
        let options = Options {
            workers: 0,
            ..Options::default()
        };
        Self::spawn_with(shape, options).await
    }

    pub async fn spawn_with(shape: Shape, options: Options) -> TestApp {
        init_logging();
        let mock = MockLlm::start(options.mock).await.expect("mock LLM starts");
        let scratch = tempfile::tempdir().expect("temp dir");
        let mut vars: HashMap<String, String> = [
            ("TROUPE_BIND", "127.0.0.1:0".to_owned()),
            ("TROUPE_LLM_BASE_URL", mock.base_url()),
            ("TROUPE_LLM_MODEL", "gpt-4o-mini".to_owned()),
            ("TROUPE_LLM_TIMEOUT_SECS", "10".to_owned()),
            ("TROUPE_WORKER_HEARTBEAT_MS", "1000".to_owned()),
            ("TROUPE_WORKER_MISSED_HEARTBEATS", "3".to_owned()),
            ("TROUPE_MAX_BODY_BYTES", "65536".to_owned()),
            ("TROUPE_LOG", "warn".to_owned()),
            // No nightly matching slot in the past week: start-up schedules no catch-up run,
            // whose embedding calls would show in the tests' counts of model calls.
            ("TROUPE_MATCHING_CRON", "0 0 0 1 1 * 2099".to_owned()),
            (
                "TROUPE_LLM_CACHE_TTL_HOURS",
                std::env::var("CACHE_TTL").unwrap_or("168".into()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        vars.extend(options.vars.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let mut postgres_db = None;
        match shape {
            Shape::Embedded => {
                vars.insert(
                    "TROUPE_DATABASE_URL".into(),
                    format!("sqlite://{}", scratch.path().join("troupe.db").display()),
                );
            }
            Shape::Distributed => {
                let name = format!("troupe_test_{}", Uuid::new_v4().simple());
                admin_execute(&format!("CREATE DATABASE {name}")).await;
                let admin = postgres_admin_url();
                let mut base = admin[..admin.rfind('/').expect("database in URL")].to_owned();
                if let Some(port) = options.postgres_port {
                    let (credentials, _) = base.rsplit_once('@').expect("user@host in URL");
                    base = format!("{credentials}@127.0.0.1:{port}");
                }
                vars.insert("TROUPE_DATABASE_URL".into(), format!("{base}/{name}"));
                // A test may bring its own Redis (to stop it, say).
                vars.entry("TROUPE_REDIS_URL".into())
                    .or_insert_with(redis_url);
                vars.insert(
                    "TROUPE_ENCRYPTION_KEY".into(),
                    generate_master_key().expose_secret().to_owned(),
                );
                vars.insert(
                    "TROUPE_QUEUE_PREFIX".into(),
                    format!("test-{}", Uuid::new_v4().simple()),
                );
                postgres_db = Some(name);
            }
        }
        let roles = match shape {
            Shape::Embedded if !options.api_only => Roles::ALL,
            _ => Roles::API,
        };
        let config = Config::from_vars(vars.clone()).expect("test configuration is valid");
        let app = App::build(config, roles).await.expect("app builds");
        let addr = app.local_addr().expect("API bound");
        let key = app
            .store()
            .provision_key("Acme Realty", Some("West"), "alice", Role::Agent)
            .await
            .expect("key")
            .token;
        let shutdown = CancellationToken::new();
        let service = tokio::spawn(app.run(shutdown.clone()));
        let mut test_app = TestApp {
            base: format!("http://{addr}"),
            key,
            mock,
            vars,
            workers: Vec::new(),
            http: reqwest::Client::new(),
            shutdown,
            service: Some(service),
            _scratch: scratch,
            postgres_db,
        };
        if !roles.worker {
            for _ in 0..options.workers {
                test_app.start_worker();
            }
        }
        test_app
    }

    /// Starts a `troupe worker` process against this app's database and queues.
    pub fn start_worker(&mut self) {
        self.start_process("worker");
    }

    /// Starts a `troupe <role>` process (`worker`, `scheduler`) against this app's database and
    /// queues; it is stopped with the app.
    pub fn start_process(&mut self, role: &str) {
        let child = Command::new(env!("CARGO_BIN_EXE_troupe"))
            .arg(role)
            .env_clear()
            .envs(&self.vars)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{role} process starts: {e}"));
        self.workers.push(child);
    }

    /// A key for another user, in this or another brokerage.
    pub async fn key_for(
        &self,
        brokerage: &str,
        team: Option<&str>,
        user: &str,
        role: Role,
    ) -> String {
        let config = Config::from_vars(self.vars.clone()).expect("config");
        let (store, _) = troupe::connect(&config).await.expect("store");
        store
            .provision_key(brokerage, team, user, role)
            .await
            .expect("key")
            .token
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        into_reply(request.send().await.expect("request sent")).await
    }

    pub async fn raw(&self, request: reqwest::RequestBuilder) -> Reply {
        into_reply(request.send().await.expect("request sent")).await
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, Some(&self.key), None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.request(Method::POST, path, Some(&self.key), Some(body))
            .await
    }

    pub async fn create_persona(&self, body: &Value) -> Value {
        let reply = self.post("/api/v1/personas", body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    pub async fn create_property(&self, body: &Value) -> Value {
        let reply = self.post("/api/v1/properties", body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    /// Polls the status until it is final, or panics at the deadline.
    pub async fn wait_for_final(&self, simulation_id: &str, deadline: Duration) -> Value {
        let started = Instant::now();
        loop {
            let status = self
                .get(&format!("/api/v1/simulations/{simulation_id}/status"))
                .await;
            assert_eq!(status.status, 200, "{}", status.body);
            if matches!(
                status.body["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ) {
                return status.body;
            }
            assert!(
                started.elapsed() < deadline,
                "simulation not finished after {deadline:?}: {}",
                status.body
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A store on this app's database, for set-ups the API refuses (and checks it does not show).
    pub async fn store(&self) -> troupe_shared::Store {
        let config = Config::from_vars(self.vars.clone()).expect("config");
        troupe::connect(&config).await.expect("store").0
    }

    /// The events the outbox holds for this app's brokerage, oldest first.
    pub async fn events(&self) -> Vec<troupe_shared::store::Event> {
        let config = Config::from_vars(self.vars.clone()).expect("config");
        let (store, _) = troupe::connect(&config).await.expect("store");
        let brokerage = store
            .brokerage_id("Acme Realty")
            .await
            .expect("brokerage")
            .expect("the test brokerage");
        store.events(brokerage, None, 1000).await.expect("events")
    }

    /// Forgets every job the queue holds, waiting, running or done: what a Redis restarted
    /// without persistence leaves, and (in the embedded shape) what a submitter that died
    /// between its commit and its push leaves.
    pub async fn lose_queued_jobs(&self) {
        match self.vars.get("TROUPE_QUEUE_PREFIX") {
            Some(prefix) => delete_redis_keys(&self.vars["TROUPE_REDIS_URL"], prefix).await,
            None => {
                let pool = sqlx::SqlitePool::connect(&self.vars["TROUPE_DATABASE_URL"])
                    .await
                    .expect("the embedded database");
                sqlx::query("DELETE FROM Jobs")
                    .execute(&pool)
                    .await
                    .expect("apalis-sqlite's job table");
                pool.close().await;
            }
        }
    }

    /// A connection to this app's database, for checks the API does not expose.
    pub async fn postgres(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.vars["TROUPE_DATABASE_URL"])
            .await
            .expect("test database")
    }
}

async fn into_reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Reply {
        status,
        headers,
        body,
    }
}

async fn admin_execute(sql: &str) {
    let pool = sqlx::PgPool::connect(&postgres_admin_url())
        .await
        .expect("PostgreSQL is reachable");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&pool)
        .await
        .expect(sql);
    pool.close().await;
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(service) = self.service.take() {
            service.abort();
        }
        for worker in &mut self.workers {
            let _ = worker.start_kill();
        }
        let database = self.postgres_db.take();
        let prefix = self.vars.get("TROUPE_QUEUE_PREFIX").cloned();
        let redis = self.vars.get("TROUPE_REDIS_URL").cloned();
        if database.is_none() {
            return;
        }
        // Dropping needs async I/O; a thread with its own runtime does it without blocking ours.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Some(name) = database {
                    admin_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
                if let (Some(prefix), Some(url)) = (prefix, redis) {
                    delete_redis_keys(&url, &prefix).await;
                }
            });
        })
        .join();
    }
}

async fn delete_redis_keys(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
    }
}

/// A persona in `segment` who wants `features`.
pub fn persona(
    name: &str,
    segment: &str,
    features: &[&str],
    deal_breakers: &[&str],
    budget_max: f64,
) -> Value {
    json!({
        "name": name,
        "segment": segment,
        "visibility": "brokerage",
        "demographics": { "age_range": "45-50", "occupation": "Founder", "net_worth_range": "$100M+" },
        "preferences": {
            "features": features,
            "deal_breakers": deal_breakers,
            "budget": { "max": budget_max }
        },
        "personality_traits": { "openness": 0.6, "decision_style": "analytical" }
    })
}

pub fn listing() -> Value {
    json!({
        "title": "Ridgeline Estate, Aspen",
        "description": "Ski-in ski-out estate with a wine cellar and a heated pool.",
        "price": 24000000,
        "location": { "city": "Aspen", "region": "Colorado", "country": "USA" },
        "features": ["wine cellar", "heated pool", "ski room", "home theater"],
        "photos": [
            { "url": "https://example.com/1.jpg", "description": "Great room with mountain views" },
            { "url": "https://example.com/2.jpg", "description": "Heated pool under snow" }
        ],
        "candidate_modifications": ["Add a wellness spa", "Convert the ski room into a gym"]
    })
}

/// Seeds two segments of personas and a listing; returns the property id.
pub async fn seed(app: &TestApp) -> String {
    for (name, segment, features, max) in [
        ("Ada", "finance", &["wine cellar", "home theater"][..], 30e6),
        ("Ben", "finance", &["wine cellar", "ocean view"][..], 20e6),
        ("Cy", "tech", &["gym", "heated pool"][..], 40e6),
        ("Di", "tech", &["spa", "ski room"][..], 26e6),
    ] {
        app.create_persona(&persona(name, segment, features, &[], max))
            .await;
    }
    app.create_property(&listing()).await["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// Generates one test per shape: `$name::embedded` and `$name::distributed`.
macro_rules! both_shapes {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    super::$name(Shape::Embedded).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn distributed() {
                    super::$name(Shape::Distributed).await
                }
            }
        )*
    };
}
pub(crate) use both_shapes;
