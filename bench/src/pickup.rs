//! Pick-up latency: how long a submitted simulation waits before a worker starts it, in each
//! shape. Measured from the simulation's own `created_at` → `started_at`, over sequential
//! single-step focus groups (offline model), and reported against the configured poll interval
//! (the fallback: a woken worker should not wait for it). The embedded shape runs as
//! `troupe serve` does, every role in one app; the distributed one has its worker apart, so
//! the wake-up crosses Redis.
//!
//! Needs PostgreSQL and Redis for the distributed shape (see scripts/test.sh).

use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use troupe::{
    App, Roles,
    client::{ApiClient, is_final},
};
use troupe_bench::{Scratch, quantile};
use troupe_shared::{Config, domain::Role};

const SUBMISSIONS: usize = 100;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // BENCH_LOG=<filter> shows the service's logs.
    if let Ok(filter) = std::env::var("BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    measure("embedded", Scratch::embedded()?).await?;
    measure("distributed", Scratch::distributed().await?).await
}

async fn measure(shape: &str, scratch: Scratch) -> anyhow::Result<()> {
    let mut vars = scratch.vars.clone();
    vars.insert("TROUPE_BIND".into(), "127.0.0.1:0".into());
    // BENCH_POLL_MS sets the fallback poll, to tell a woken pick-up from a polled one.
    if let Ok(poll) = std::env::var("BENCH_POLL_MS") {
        vars.insert("TROUPE_WORKER_POLL_MS".into(), poll);
    }
    let config = Config::from_vars(vars)?;
    let poll_ms = config.worker.poll_interval.as_secs_f64() * 1000.0;
    let embedded = config.redis_url.is_none();
    let api_roles = if embedded { Roles::ALL } else { Roles::API };
    let api = App::build(config.clone(), api_roles).await?;
    // Distributed: a worker app of its own (in this process; pick-up goes through Redis).
    let worker = match embedded {
        true => None,
        false => Some(App::build(config.clone(), Roles::WORKER).await?),
    };
    let key = api
        .store()
        .provision_key("Bench", None, "bench", Role::Agent)
        .await?;
    let client = ApiClient::new(
        format!("http://{}", api.local_addr().context("bound")?),
        key.token,
    );
    let shutdown = CancellationToken::new();
    let api_task = tokio::spawn(api.run(shutdown.clone()));
    let worker_task = worker.map(|worker| tokio::spawn(worker.run(shutdown.clone())));
    // Let the worker register and go idle, so each submission finds it polling.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let persona = client
        .post("/api/v1/personas", &json!({ "name": "P", "segment": "s" }))
        .await?;
    let mut waits = Vec::with_capacity(SUBMISSIONS);
    for _ in 0..SUBMISSIONS {
        let body = json!({ "property": { "title": "L", "price": 1000000 }, "persona_ids": [persona["id"]], "questions": ["?"] });
        let accepted = client
            .post("/api/v1/simulations/focus-group", &body)
            .await?;
        let id = accepted["id"].as_str().context("id")?;
        let (poll, limit) = (Duration::from_millis(5), Duration::from_secs(60));
        let status = client.wait_for(id, is_final, poll, limit).await?;
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
    if let Some(worker_task) = worker_task {
        worker_task.await??;
    }
    scratch.drop_database().await?;

    let (p50, p99, max) = (
        quantile(&mut waits, 0.5),
        quantile(&mut waits, 0.99),
        quantile(&mut waits, 1.0),
    );
    println!(
        "pickup shape={shape} n={SUBMISSIONS} p50_ms={p50:.1} p99_ms={p99:.1} max_ms={max:.1} poll_interval_ms={poll_ms:.0} p99/poll={:.2} (target p99 ≤ 10 ms)",
        p99 / poll_ms
    );
    Ok(())
}
