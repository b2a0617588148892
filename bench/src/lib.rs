//! What the harnesses share: scratch databases for either shape, and a small API client.

use std::{collections::HashMap, time::Duration};

use anyhow::{Context, bail};
use serde_json::Value;

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

/// The API as a client sees it.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Api {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("{path}: {status} {body}");
        }
        Ok(body)
    }

    /// Polls a simulation until it is final; returns its results.
    pub async fn finish(&self, id: &str) -> anyhow::Result<Value> {
        loop {
            let status = self
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/simulations/{id}/status"),
                    None,
                )
                .await?;
            if matches!(
                status["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ) {
                return self
                    .call(
                        reqwest::Method::GET,
                        &format!("/api/v1/simulations/{id}/results"),
                        None,
                    )
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The `q` quantile of `values` (sorted in place).
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}
