//! The LLM gateway at the provider's limit. A mock provider enforces T tokens and R requests a
//! minute (OpenAI-style buckets and 429s) with 300–1500 ms latency; Troupe runs a stream of focus
//! groups against it for a while, as one embedded process and as the distributed shape with 1 and
//! 4 worker processes sharing the key; then again with the provider's real limits 30% below what
//! Troupe was told (`adapt-…`), which Troupe must learn from the replies' headers.
//!
//! Per scenario it prints tokens accepted per minute ÷ T and requests per minute ÷ R (over the
//! run after a warm-up), the share of requests answered 429, failed simulations, and the
//! limiter wait per call (p50/p95 over simulations), then a summary line:
//! `scenario=<name> utilization=<ratio> rate_limited=<fraction> failed_jobs=<n>`.
//!
//! `BENCH_SECONDS` (default 120) sets each scenario's length and `BENCH_SCENARIOS` (comma
//! separated names) picks scenarios; needs PostgreSQL and Redis.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use mock_llm::{MockConfig, MockLlm, Stats};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use troupe::client::is_final;
use troupe_bench::{Deployment, Scratch, quantile};

/// Troupe's configured limits for the key.
const TPM: u64 = 60_000;
const RPM: u64 = 600;
/// Simulations kept in flight, and their shape (personas × questions): enough concurrent calls
/// to saturate the limit, few enough that each simulation finishes within the run.
const IN_FLIGHT: usize = 4;
const PERSONAS: usize = 6;
const QUESTIONS: usize = 3;
const WARM_UP: Duration = Duration::from_secs(20);

struct Scenario {
    name: &'static str,
    workers: Option<usize>,
    /// The provider's real limits as a share of the configured ones.
    real_share: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let duration = Duration::from_secs(seconds).max(WARM_UP + Duration::from_secs(20));
    let scenarios = [
        Scenario {
            name: "embedded",
            workers: None,
            real_share: 1.0,
        },
        Scenario {
            name: "distributed-1",
            workers: Some(1),
            real_share: 1.0,
        },
        Scenario {
            name: "distributed-4",
            workers: Some(4),
            real_share: 1.0,
        },
        Scenario {
            name: "adapt-embedded",
            workers: None,
            real_share: 0.7,
        },
        Scenario {
            name: "adapt-distributed-1",
            workers: Some(1),
            real_share: 0.7,
        },
        Scenario {
            name: "adapt-distributed-4",
            workers: Some(4),
            real_share: 0.7,
        },
    ];
    println!(
        "gateway bench: configured TPM={TPM} RPM={RPM}, {IN_FLIGHT} focus groups in flight ({PERSONAS} personas × {QUESTIONS} questions), {seconds} s per scenario, first {} s excluded",
        WARM_UP.as_secs()
    );
    // BENCH_SCENARIOS=a,b runs only those.
    let only = std::env::var("BENCH_SCENARIOS").ok();
    let chosen = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|n| n == name))
    };
    let mut summary = Vec::new();
    for scenario in scenarios.iter().filter(|s| chosen(s.name)) {
        summary.push(run(scenario, duration).await?);
    }
    for line in summary {
        println!("{line}");
    }
    Ok(())
}

async fn run(scenario: &Scenario, duration: Duration) -> anyhow::Result<String> {
    let real_tpm = (TPM as f64 * scenario.real_share) as u64;
    let real_rpm = (RPM as f64 * scenario.real_share) as u64;
    let mock = MockLlm::start(MockConfig {
        latency_ms: (300, 1500),
        tpm: Some(real_tpm),
        rpm: Some(real_rpm),
        ..MockConfig::default()
    })
    .await?;
    let scratch = Scratch::for_workers(scenario.workers).await?;
    let vars = scratch.vars_with([
        ("TROUPE_BIND", "127.0.0.1:0".to_owned()),
        ("TROUPE_LLM_BASE_URL", mock.base_url()),
        ("TROUPE_LLM_TPM", TPM.to_string()),
        ("TROUPE_LLM_RPM", RPM.to_string()),
        ("TROUPE_LLM_TIMEOUT_SECS", "10".to_owned()),
        (
            "TROUPE_LOG",
            std::env::var("BENCH_LOG").unwrap_or_else(|_| "error".to_owned()),
        ),
    ]);
    let deployment = Deployment::start(vars, scenario.workers).await?;
    let api = deployment.api.clone();

    let mut persona_ids = Vec::new();
    for i in 0..PERSONAS {
        let persona = json!({
            "name": format!("Buyer {i}"), "segment": if i % 2 == 0 { "finance" } else { "tech" },
            "preferences": { "features": ["wine cellar", "ocean views", "home gym"], "budget": { "max": 3e7 } }
        });
        persona_ids.push(api.post("/api/v1/personas", &persona).await?["id"].clone());
    }
    let listing = json!({ "title": "Ridgeline Estate", "price": 2.4e7,
        "features": ["wine cellar", "heated pool", "ski room"], "candidate_modifications": ["Add a spa"] });
    let property = api.post("/api/v1/properties", &listing).await?;

    // Keep IN_FLIGHT simulations running until the time is up; each has its own seed, so no
    // answer comes from the cache.
    let started = Instant::now();
    let seeds = Arc::new(AtomicU64::new(0));
    let finished: Arc<Mutex<Vec<Value>>> = Arc::default();
    let mut feeders = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (api, seeds, finished) = (api.clone(), seeds.clone(), finished.clone());
        let request = json!({ "property_id": property["id"], "persona_ids": persona_ids,
            "questions": ["First impression?", "Would you buy it at this price?", "What would you change?"] });
        feeders.push(tokio::spawn(async move {
            while started.elapsed() < duration {
                let mut request = request.clone();
                request["simulation_params"] =
                    json!({ "seed": seeds.fetch_add(1, Ordering::Relaxed) });
                let accepted = api
                    .post("/api/v1/simulations/focus-group", &request)
                    .await?;
                let id = accepted["id"].as_str().context("id")?;
                let (poll, limit) = (Duration::from_millis(100), Duration::from_secs(3600));
                api.wait_for(id, is_final, poll, limit).await?;
                let results = api
                    .get(&format!("/api/v1/simulations/{id}/results"))
                    .await?;
                finished.lock().await.push(results);
            }
            anyhow::Ok(())
        }));
    }
    tokio::time::sleep(duration).await;
    let stats = mock.stats();
    // Simulations still running are abandoned with the service: the run is over.
    for feeder in feeders {
        feeder.abort();
        match feeder.await {
            Ok(result) => result?,
            Err(e) if e.is_cancelled() => {}
            Err(e) => return Err(e.into()),
        }
    }
    deployment.stop();
    scratch.drop_database().await?;

    let finished = finished.lock().await;
    let failed = finished
        .iter()
        .filter(|r| r["status"] != "completed")
        .count();
    let mut waits: Vec<f64> = finished
        .iter()
        .filter_map(|r| {
            let calls = r["metadata"]["llm_calls"].as_f64()?;
            (calls > 0.0).then(|| r["metadata"]["limiter_wait_ms"].as_f64().unwrap_or(0.0) / calls)
        })
        .collect();
    let window = measured_window(&stats, duration);
    let minutes = window.seconds as f64 / 60.0;
    let token_utilization = window.tokens as f64 / minutes / real_tpm as f64;
    let request_utilization = window.requests as f64 / minutes / real_rpm as f64;
    let rate_limited = stats.rate_limited as f64 / stats.requests.max(1) as f64;
    println!(
        "{:<20} tokens/min {:>7.0} ÷ T {:>6} = {:.3} | requests/min {:>5.0} ÷ R {:>4} = {:.3} | 429s {}/{} | simulations {} ({} failed) | limiter wait per call p50 {:.0} ms, p95 {:.0} ms",
        scenario.name,
        window.tokens as f64 / minutes,
        real_tpm,
        token_utilization,
        window.requests as f64 / minutes,
        real_rpm,
        request_utilization,
        stats.rate_limited,
        stats.requests,
        finished.len(),
        failed,
        quantile(&mut waits, 0.5),
        quantile(&mut waits, 0.95),
    );
    Ok(format!(
        "scenario={} utilization={:.3} rate_limited={:.4} failed_jobs={failed}",
        scenario.name,
        token_utilization.max(request_utilization),
        rate_limited
    ))
}

struct Window {
    seconds: usize,
    tokens: u64,
    requests: u64,
}

/// The seconds after the warm-up, up to the end of the run: steady state only.
fn measured_window(stats: &Stats, duration: Duration) -> Window {
    let from = WARM_UP.as_secs() as usize;
    let to = (duration.as_secs() as usize).min(stats.series.len());
    let slice = &stats.series[from.min(to)..to];
    Window {
        seconds: slice.len().max(1),
        tokens: slice.iter().map(|s| s.tokens).sum(),
        requests: slice.iter().map(|s| s.requests - s.rate_limited).sum(),
    }
}
