//! What the harnesses share: scratch databases for either shape, a running deployment, and
//! quantiles.

use std::{collections::HashMap, process::Stdio};

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;
use troupe::{App, Roles, client::ApiClient};
use troupe_shared::{Config, domain::Role};

/// A scratch database (and, for the distributed shape, a Redis queue prefix) for one run; the
/// PostgreSQL database is dropped by [`Scratch::drop_database`].
pub struct Scratch {
    pub vars: HashMap<String, String>,
    admin_url: Option<String>,
    database: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Scratch {
    pub fn embedded() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        Ok(Scratch {
            vars: HashMap::from([("TROUPE_DATABASE_URL".into(), url)]),
            admin_url: None,
            database: None,
            _dir: Some(dir),
        })
    }

    /// Uses `TROUPE_TEST_POSTGRES_URL` / `TROUPE_TEST_REDIS_URL` (the test script's defaults).
    pub async fn distributed() -> anyhow::Result<Self> {
        let admin = std::env::var("TROUPE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let redis = std::env::var("TROUPE_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let name = format!("troupe_bench_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin)
            .await
            .context("PostgreSQL for the distributed shape")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await?;
        let base = &admin[..admin.rfind('/').context("database in URL")?];
        let vars = HashMap::from([
            ("TROUPE_DATABASE_URL".into(), format!("{base}/{name}")),
            ("TROUPE_REDIS_URL".into(), redis),
            (
                "TROUPE_ENCRYPTION_KEY".into(),
                troupe_shared::crypto::generate_master_key()
                    .expose_secret()
                    .to_owned(),
            ),
            (
                "TROUPE_QUEUE_PREFIX".into(),
                format!("bench-{}", uuid::Uuid::new_v4().simple()),
            ),
        ]);
        Ok(Scratch {
            vars,
            admin_url: Some(admin),
            database: Some(name),
            _dir: None,
        })
    }

    /// The scratch database of a [`Deployment`] with `workers`: embedded for `None`.
    pub async fn for_workers(workers: Option<usize>) -> anyhow::Result<Self> {
        match workers {
            None => Self::embedded(),
            Some(_) => Self::distributed().await,
        }
    }

    /// This scratch's variables with the harness's `settings` added.
    pub fn vars_with<'a>(
        &self,
        settings: impl IntoIterator<Item = (&'a str, String)>,
    ) -> HashMap<String, String> {
        let mut vars = self.vars.clone();
        vars.extend(settings.into_iter().map(|(k, v)| (k.to_owned(), v)));
        vars
    }

    pub async fn drop_database(self) -> anyhow::Result<()> {
        if let (Some(admin), Some(name)) = (self.admin_url, self.database) {
            let pool = sqlx::PgPool::connect(&admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE {name} WITH (FORCE)"
            )))
            .execute(&pool)
            .await?;
        }
        Ok(())
    }
}

/// Troupe running on a scratch database: embedded (one in-process app with every role), or
/// distributed (the API in process, `workers` `troupe worker` child processes).
pub struct Deployment {
    pub api: ApiClient,
    shutdown: CancellationToken,
    service: tokio::task::JoinHandle<anyhow::Result<()>>,
    _workers: Vec<Child>,
}

impl Deployment {
    /// `vars` are the scratch database's plus the harness's settings; `workers` is `None` for
    /// the embedded shape.
    pub async fn start(
        vars: HashMap<String, String>,
        workers: Option<usize>,
    ) -> anyhow::Result<Self> {
        let config = Config::from_vars(vars.clone())?;
        let roles = if workers.is_some() {
            Roles::API
        } else {
            Roles::ALL
        };
        let app = App::build(config, roles).await?;
        let key = app
            .store()
            .provision_key("Bench", None, "bench", Role::Agent)
            .await?;
        let api = ApiClient::new(
            format!("http://{}", app.local_addr().context("bound")?),
            key.token,
        );
        let shutdown = CancellationToken::new();
        let service = tokio::spawn(app.run(shutdown.clone()));
        // The harness binaries are built next to `troupe` (the scripts build both).
        let troupe = std::env::current_exe()?.with_file_name("troupe");
        let mut children = Vec::new();
        for _ in 0..workers.unwrap_or(0) {
            children.push(
                Command::new(&troupe)
                    .arg("worker")
                    .env_clear()
                    .envs(&vars)
                    .stdout(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .with_context(|| format!("starting {}", troupe.display()))?,
            );
        }
        Ok(Deployment {
            api,
            shutdown,
            service,
            _workers: children,
        })
    }

    /// Stops the service; running simulations are abandoned with it, worker processes killed.
    pub fn stop(self) {
        self.shutdown.cancel();
        self.service.abort();
    }
}

/// POSTs every body, `at_once` at a time; the created resources' ids in order.
pub async fn post_all(
    api: &ApiClient,
    path: &str,
    bodies: Vec<serde_json::Value>,
    at_once: usize,
) -> anyhow::Result<Vec<String>> {
    use futures::{StreamExt, stream};
    let created: Vec<anyhow::Result<serde_json::Value>> = stream::iter(bodies)
        .map(|body| async move { api.post(path, &body).await })
        .buffered(at_once)
        .collect()
        .await;
    created
        .into_iter()
        .map(|c| Ok(c?["id"].as_str().context("id")?.to_owned()))
        .collect()
}

/// A harness's size setting from the environment, or `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `q` quantile of `values` (sorted in place).
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}
