//! Pick-up latency: how long a submitted simulation waits before a worker starts it, in each
//! shape. Measured from the simulation's own `created_at` → `started_at`, over sequential
//! single-step focus groups (offline model), and reported against the configured poll interval
//! (an idle worker's expected wait is half of it).
//!
//! Needs PostgreSQL and Redis for the distributed shape (see scripts/test.sh).

use std::{collections::HashMap, time::Duration};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use troupe::{App, Roles};
use troupe_shared::{Config, domain::Role};

const SUBMISSIONS: usize = 40;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scratch =
        std::env::temp_dir().join(format!("troupe-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch)?;
    let embedded = vec![(
        "TROUPE_DATABASE_URL".to_owned(),
        format!("sqlite://{}", scratch.join("bench.db").display()),
    )];
    measure("embedded", embedded).await?;

    let admin = std::env::var("TROUPE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let redis =
        std::env::var("TROUPE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let name = format!("troupe_bench_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .context("PostgreSQL for the distributed shape")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await?;
    let base = &admin[..admin.rfind('/').context("database in URL")?];
    let distributed = vec![
        ("TROUPE_DATABASE_URL".to_owned(), format!("{base}/{name}")),
        ("TROUPE_REDIS_URL".to_owned(), redis),
        (
            "TROUPE_QUEUE_PREFIX".to_owned(),
            format!("bench-{}", uuid::Uuid::new_v4().simple()),
        ),
    ];
    let outcome = measure("distributed", distributed).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&pool)
    .await?;
    std::fs::remove_dir_all(&scratch)?;
    outcome
}

async fn measure(shape: &str, vars: Vec<(String, String)>) -> anyhow::Result<()> {
    let mut vars: HashMap<String, String> = vars.into_iter().collect();
    vars.insert("TROUPE_BIND".into(), "127.0.0.1:0".into());
    vars.insert("TROUPE_LOG".into(), "warn".into());
    let config = Config::from_vars(vars)?;
    let poll = config.worker.poll_interval;
    // The API and a worker, as separate apps (in one process; pick-up goes through the queue).
    let api = App::build(config.clone(), Roles::API).await?;
    let worker = App::build(config.clone(), Roles::WORKER).await?;
    let base = format!("http://{}", api.local_addr().context("bound")?);
    let key = api
        .store()
        .provision_key("Bench", None, "bench", Role::Agent)
        .await?
        .token;
    let shutdown = CancellationToken::new();
    let api_task = tokio::spawn(api.run(shutdown.clone()));
    let worker_task = tokio::spawn(worker.run(shutdown.clone()));
    // Let the worker register and go idle, so each submission finds it polling.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String, body: Option<Value>| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            anyhow::Ok(
                request
                    .send()
                    .await?
                    .error_for_status()?
                    .json::<Value>()
                    .await?,
            )
        }
    };
    let persona = call(
        reqwest::Method::POST,
        "/api/v1/personas".into(),
        Some(json!({ "name": "P", "segment": "s" })),
    )
    .await?;
    let listing = json!({ "title": "L", "price": 1000000 });
    let mut waits = Vec::with_capacity(SUBMISSIONS);
    for _ in 0..SUBMISSIONS {
        let body =
            json!({ "property": listing, "persona_ids": [persona["id"]], "questions": ["?"] });
        let accepted = call(
            reqwest::Method::POST,
            "/api/v1/simulations/focus-group".into(),
            Some(body),
        )
        .await?;
        let status_path = accepted["status_url"]
            .as_str()
            .context("status_url")?
            .to_owned();
        let status = loop {
            let status = call(reqwest::Method::GET, status_path.clone(), None).await?;
            match status["status"].as_str() {
                Some("completed") => break status,
                Some("failed") => bail!("simulation failed: {status}"),
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        };
        let created: chrono::DateTime<chrono::Utc> = status["created_at"]
            .as_str()
            .context("created_at")?
            .parse()?;
        let started: chrono::DateTime<chrono::Utc> = status["started_at"]
            .as_str()
            .context("started_at")?
            .parse()?;
        waits.push((started - created).num_microseconds().unwrap_or(0) as f64 / 1000.0);
    }
    shutdown.cancel();
    api_task.await??;
    worker_task.await??;

    waits.sort_by(f64::total_cmp);
    let at = |q: f64| waits[((waits.len() - 1) as f64 * q).round() as usize];
    let poll_ms = poll.as_secs_f64() * 1000.0;
    println!(
        "pickup shape={shape} n={} p50_ms={:.1} p95_ms={:.1} max_ms={:.1} poll_interval_ms={poll_ms:.0} p95/poll={:.2}",
        waits.len(),
        at(0.5),
        at(0.95),
        at(1.0),
        at(0.95) / poll_ms
    );
    Ok(())
}
