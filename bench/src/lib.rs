//! What the harnesses share: scratch databases for either shape, and quantiles.

use std::collections::HashMap;

use anyhow::Context;

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

/// The `q` quantile of `values` (sorted in place).
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}
