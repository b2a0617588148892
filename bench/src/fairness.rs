//! Fairness between brokerages on the shared simulation queue. One brokerage submits a flood of
//! small focus groups (5,000 by default); once they are all accepted, another brokerage submits
//! one. The figure is how long that one waits for a worker (`created_at` → `started_at`) as a
//! multiple of one job's run time, measured in the same run (the median `started_at` →
//! `completed_at` of the flood's jobs). The reference is the same run with the queue share set
//! to the flood's size, which is first-come first-served: there the single job waits behind the
//! whole flood, so it is followed for a limited time only.
//!
//! The model is the mock provider at a fixed latency (BENCH_LATENCY_MS, 200 ms), so a job's run
//! time is the model's, as with a real provider. Needs PostgreSQL and Redis for the distributed
//! shape (see scripts/test.sh). BENCH_FLOOD sets the flood's size.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use mock_llm::{MockConfig, MockLlm};
use serde_json::{Value, json};
use troupe::client::ApiClient;
use troupe_bench::{Deployment, Scratch, env_number, post_all, quantile};
use troupe_shared::{Config, domain::Role};

/// How long the first-come first-served reference's single job is followed.
const REFERENCE_PATIENCE: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flood = env_number("BENCH_FLOOD", 5000);
    let latency_ms = env_number("BENCH_LATENCY_MS", 200) as u64;
    println!(
        "fairness bench: {flood} focus groups from one brokerage, then one from another; mock latency {latency_ms} ms"
    );
    for (shape, workers) in [("embedded", None), ("distributed", Some(2))] {
        for share in [None, Some(flood)] {
            run(shape, workers, share, flood, latency_ms).await?;
        }
    }
    Ok(())
}

async fn run(
    shape: &str,
    workers: Option<usize>,
    share: Option<usize>,
    flood: usize,
    latency_ms: u64,
) -> anyhow::Result<()> {
    let mock = MockLlm::start(MockConfig {
        latency_ms: (latency_ms, latency_ms),
        ..MockConfig::default()
    })
    .await?;
    let scratch = Scratch::for_workers(workers).await?;
    let mut vars = scratch.vars_with([
        ("TROUPE_BIND", "127.0.0.1:0".to_owned()),
        ("TROUPE_LLM_BASE_URL", mock.base_url()),
        ("TROUPE_LLM_RPM", "1000000".to_owned()),
        ("TROUPE_LLM_TPM", "1000000000".to_owned()),
        ("TROUPE_SIMULATION_MAX_ACTIVE", (flood + 10).to_string()),
        ("TROUPE_LOG", "error".to_owned()),
    ]);
    if let Some(share) = share {
        vars.insert("TROUPE_SIMULATION_QUEUE_SHARE".into(), share.to_string());
    }
    let config = Config::from_vars(vars.clone())?;
    let share_used = config.limits.queue_share;
    let deployment = Deployment::start(vars, workers).await?;
    let flooder = &deployment.api;
    let (store, _) = troupe::connect(&config).await?;
    let rival_key = store
        .provision_key("Rival", None, "rival", Role::Agent)
        .await?;
    store.close().await;
    let rival = flooder.with_key(rival_key.token);

    let flood_body = small_focus_group(flooder).await?;
    let submitting = std::time::Instant::now();
    let flood_ids = post_all(
        flooder,
        "/api/v1/simulations/focus-group",
        vec![flood_body; flood],
        16,
    )
    .await?;
    let submit_rate = flood as f64 / submitting.elapsed().as_secs_f64();

    let single_body = small_focus_group(&rival).await?;
    let single = rival
        .post("/api/v1/simulations/focus-group", &single_body)
        .await?;
    let single_id = single["id"].as_str().context("id")?.to_owned();
    let waited = started_within(&rival, &single_id, REFERENCE_PATIENCE).await?;

    // One job's run time, from the flood's finished jobs (the first few hundred suffice).
    let mut run_times = Vec::new();
    for id in flood_ids.iter().take(200) {
        let status = flooder
            .get(&format!("/api/v1/simulations/{id}/status"))
            .await?;
        if let (Some(started), Some(completed)) = (
            timestamp(&status["started_at"]),
            timestamp(&status["completed_at"]),
        ) {
            run_times.push(millis(completed - started));
        }
    }
    let run_time = quantile(&mut run_times, 0.5);
    let policy = match share {
        None => format!("fair (share {share_used})"),
        Some(_) => "first come, first served (reference)".to_owned(),
    };
    match waited {
        Some(wait) => println!(
            "fairness shape={shape} policy={policy}: submits {submit_rate:.0}/s; the other brokerage's job waited {wait:.0} ms = {:.2} × one job's run time ({run_time:.0} ms, median of {})",
            wait / run_time,
            run_times.len()
        ),
        None => println!(
            "fairness shape={shape} policy={policy}: submits {submit_rate:.0}/s; the other brokerage's job had not started after {} s (> {:.0} × one job's run time of {run_time:.0} ms)",
            REFERENCE_PATIENCE.as_secs(),
            REFERENCE_PATIENCE.as_millis() as f64 / run_time
        ),
    }
    deployment.stop();
    scratch.drop_database().await?;
    Ok(())
}

/// A focus group of one persona, one question: one model call, so a job's run time is about the
/// model's latency.
async fn small_focus_group(api: &ApiClient) -> anyhow::Result<Value> {
    let persona = api
        .post(
            "/api/v1/personas",
            &json!({ "name": "P", "segment": "finance" }),
        )
        .await?;
    Ok(json!({
        "property": { "title": "L", "price": 1_000_000 },
        "persona_ids": [persona["id"]],
        "questions": ["First impression?"],
    }))
}

/// How long the simulation waited from its creation until a worker started it, if it started
/// within `patience` (`None` otherwise).
async fn started_within(
    api: &ApiClient,
    id: &str,
    patience: Duration,
) -> anyhow::Result<Option<f64>> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        let status = api.get(&format!("/api/v1/simulations/{id}/status")).await?;
        if let (Some(created), Some(started)) = (
            timestamp(&status["created_at"]),
            timestamp(&status["started_at"]),
        ) {
            return Ok(Some(millis(started - created)));
        }
        if std::time::Instant::now() > deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str()?.parse().ok()
}

fn millis(span: chrono::TimeDelta) -> f64 {
    span.num_microseconds().unwrap_or(0) as f64 / 1000.0
}
