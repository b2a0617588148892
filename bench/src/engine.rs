//! The persona engine against its critical path. A mock provider answers every call after a
//! fixed latency L with no rate limit, so a simulation can take no less than (its rounds in
//! sequence) × L; the harness prints wall time ÷ that critical path for each kind, in the
//! embedded shape and the distributed shape with two worker processes:
//!
//! - focus group: 50 personas × 3 questions + 1 discussion round + 2 modifications (6 rounds);
//! - the same focus group with 1,000 personas (6,000 agent steps), on a key that allows it;
//! - marketing: 3 materials × 2 channels × 30 personas (1 round), then the copywriter's
//!   rewrites of the materials whose objections are worth answering (a second round);
//! - intervention: 2 variants × 4 touches × 20 personas (4 rounds);
//! - individual: 20 simulations one after another (1 round each; p95 against L + 150 ms).
//!
//! Wall time is the simulation's own `created_at` → `completed_at`, so it includes queueing,
//! pick-up and storing the results. Tokens per agent step are the provider's counts ÷ calls.
//! Ends with `kind=<name> critical_path_ratio=<x> tokens_per_step=<n>` per kind (the worse
//! shape's ratio). `BENCH_LATENCY_MS` sets L (default 400); needs PostgreSQL and Redis. The
//! agent parallelism is the default: how wide a round runs is the limiter's to say.

use std::{collections::BTreeMap, time::Duration};

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use mock_llm::{MockConfig, MockLlm};
use serde_json::{Value, json};
use troupe::client::{ApiClient, is_final};
use troupe_bench::{Deployment, Scratch, quantile};

const PERSONAS: usize = 50;
const BIG_PANEL: usize = 1000;
const INDIVIDUALS: usize = 20;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let latency_ms: u64 = std::env::var("BENCH_LATENCY_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    println!("engine bench: mock latency L = {latency_ms} ms, no rate limit");
    // kind → (worst ratio, tokens per step)
    let mut summary: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (shape, workers) in [("embedded", None), ("distributed-2", Some(2))] {
        for (kind, ratio, tokens) in run_shape(shape, workers, latency_ms).await? {
            let entry = summary.entry(kind).or_insert((0.0, tokens));
            entry.0 = entry.0.max(ratio);
        }
    }
    for (kind, (ratio, tokens)) in summary {
        println!("kind={kind} critical_path_ratio={ratio:.2} tokens_per_step={tokens:.0}");
    }
    Ok(())
}

async fn run_shape(
    shape: &str,
    workers: Option<usize>,
    latency_ms: u64,
) -> anyhow::Result<Vec<(&'static str, f64, f64)>> {
    let mock = MockLlm::start(MockConfig {
        latency_ms: (latency_ms, latency_ms),
        ..MockConfig::default()
    })
    .await?;
    let scratch = Scratch::for_workers(workers).await?;
    let vars = scratch.vars_with([
        ("TROUPE_BIND", "127.0.0.1:0".to_owned()),
        ("TROUPE_LLM_BASE_URL", mock.base_url()),
        ("TROUPE_LLM_RPM", "1000000".to_owned()),
        ("TROUPE_LLM_TPM", "1000000000".to_owned()),
        ("TROUPE_SIMULATION_MAX_AGENTS", BIG_PANEL.to_string()),
        (
            "TROUPE_LOG",
            std::env::var("BENCH_LOG").unwrap_or_else(|_| "error".to_owned()),
        ),
    ]);
    let deployment = Deployment::start(vars, workers).await?;
    let api = &deployment.api;
    let ids = seed(api, BIG_PANEL).await?;
    let property = api.post("/api/v1/properties", &listing()).await?["id"].clone();
    let l = latency_ms as f64 / 1000.0;
    let mut out = Vec::new();

    let focus_group = |ids: &[Value]| {
        json!({
            "property_id": property, "persona_ids": ids,
            "questions": ["First impression?", "Which photo sells it?", "Would you buy at this price?"],
            "discussion_rounds": 1,
            "modifications_to_test": ["Add a wine cellar", "Convert the guest house into a gym"],
            "simulation_params": { "seed": 1, "token_budget": 20_000_000 }
        })
    };
    let marketing = json!({
        "persona_ids": &ids[..30],
        "materials": [
            { "name": "Cellar", "subject": "A 3,000-bottle wine cellar", "body": "Tour the wine cellar and the ocean views." },
            { "name": "Privacy", "subject": "Gated and private", "body": "A gated estate with a guest house." },
            { "name": "Plain", "subject": "New listing", "body": "A new home is available." }
        ],
        "channels": ["email", "sms"],
        "simulation_params": { "seed": 2 }
    });
    let touches = |gap: u32| -> Vec<Value> {
        (0..4).map(|i| json!({ "day": i * gap, "channel": "email", "message": "A private viewing of the wine cellar estate?" })).collect()
    };
    let intervention = json!({
        "persona_ids": &ids[..20],
        "variants": [{ "name": "Weekly", "touches": touches(7) }, { "name": "Daily", "touches": touches(1) }],
        "simulation_params": { "seed": 3 }
    });
    for (kind, path, body, rounds) in [
        (
            "focus_group",
            "focus-group",
            focus_group(&ids[..PERSONAS]),
            6.0,
        ),
        ("focus_group_1000", "focus-group", focus_group(&ids), 6.0),
        ("marketing", "marketing", marketing, 2.0),
        ("intervention", "intervention", intervention, 4.0),
    ] {
        let (wall, tokens, calls, steps, waited, rewritten) = simulate(api, path, &body).await?;
        // Marketing's second round runs only when an objection was worth a rewrite.
        let rounds = if kind == "marketing" && !rewritten {
            1.0
        } else {
            rounds
        };
        let ratio = wall / (rounds * l);
        let per_step = tokens / calls.max(1.0);
        println!(
            "shape={shape} kind={kind} steps={steps} rounds={rounds} wall_s={wall:.3} critical_path_s={:.3} ratio={ratio:.2} tokens_per_step={per_step:.0} limiter_wait_ms_per_call={:.1}",
            rounds * l,
            waited / calls.max(1.0)
        );
        out.push((kind, ratio, per_step));
    }

    let mut walls = Vec::new();
    let (mut tokens, mut calls) = (0.0, 0.0);
    for (i, persona_id) in ids.iter().take(INDIVIDUALS).enumerate() {
        let body = json!({
            "persona_id": persona_id,
            "scenario": { "type": "property_viewing", "context": { "property": "Carbon Beach Modern", "price": 38500000, "shown": "the wine cellar and the ocean views" } },
            "simulation_params": { "seed": 100 + i }
        });
        let (wall, t, c, ..) = simulate(api, "individual", &body).await?;
        walls.push(wall);
        tokens += t;
        calls += c;
    }
    let p95 = quantile(&mut walls, 0.95);
    let p50 = quantile(&mut walls, 0.5);
    println!(
        "shape={shape} kind=individual n={INDIVIDUALS} p50_s={p50:.3} p95_s={p95:.3} p95-L_ms={:.0} (target ≤ 150) ratio={:.2} tokens_per_step={:.0}",
        (p95 - l) * 1000.0,
        p95 / l,
        tokens / calls.max(1.0)
    );
    out.push(("individual", p95 / l, tokens / calls.max(1.0)));
    deployment.stop();
    scratch.drop_database().await?;
    Ok(out)
}

/// Runs one simulation: (wall seconds, tokens, model calls, agent steps, limiter wait ms,
/// whether the copywriter rewrote a material).
async fn simulate(
    api: &ApiClient,
    path: &str,
    body: &Value,
) -> anyhow::Result<(f64, f64, f64, u64, f64, bool)> {
    let accepted = api
        .post(&format!("/api/v1/simulations/{path}"), body)
        .await?;
    let id = accepted["id"].as_str().context("id")?;
    let status = api
        .wait_for(
            id,
            is_final,
            Duration::from_millis(20),
            Duration::from_secs(600),
        )
        .await?;
    anyhow::ensure!(status["status"] == "completed", "{path}: {status}");
    let time = |field: &str| -> anyhow::Result<DateTime<Utc>> {
        Ok(status[field].as_str().context("time")?.parse()?)
    };
    let wall = (time("completed_at")? - time("created_at")?)
        .num_microseconds()
        .unwrap_or(0) as f64
        / 1e6;
    let results = api
        .get(&format!("/api/v1/simulations/{id}/results"))
        .await?;
    let metadata = &results["metadata"];
    let rewritten = results["results"]["recommendations"]
        .as_array()
        .is_some_and(|all| {
            all.iter().any(|r| {
                r["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Rewrite "))
            })
        });
    Ok((
        wall,
        metadata["tokens_used"].as_f64().unwrap_or(0.0),
        metadata["llm_calls"].as_f64().unwrap_or(0.0),
        status["progress"]["total"].as_u64().unwrap_or(0),
        metadata["limiter_wait_ms"].as_f64().unwrap_or(0.0),
        rewritten,
    ))
}

/// `count` enriched personas across three segments, created 16 at a time; returns their ids.
async fn seed(api: &ApiClient, count: usize) -> anyhow::Result<Vec<Value>> {
    let segments = [
        (
            "finance_executives",
            &["wine cellar", "home office", "ocean views"][..],
            &["street noise"][..],
        ),
        (
            "tech_founders",
            &["home gym", "smart home", "guest house"][..],
            &["dated kitchen"][..],
        ),
        (
            "entertainment",
            &["screening room", "privacy", "infinity pool"][..],
            &["public road"][..],
        ),
    ];
    let persona = |i: usize| {
        let (segment, wants, breakers) = segments[i % segments.len()];
        json!({
            "name": format!("Client {i}"), "segment": segment, "visibility": "brokerage",
            "biography": "Relocating family; spends summers on the coast and values privacy.",
            "demographics": { "age_range": "45-55", "occupation": "Executive", "net_worth_range": "$100M+",
                              "location": { "city": "New York", "country": "USA" } },
            "preferences": { "features": wants, "deal_breakers": breakers, "locations": ["Malibu"],
                             "budget": { "max": 3.0e7 + (i as f64) * 5.0e5 } },
            "personality_traits": { "openness": (i % 10) as f64 / 10.0, "decision_style": "analytical",
                                    "communication_preference": if i.is_multiple_of(2) { "email" } else { "phone" } },
            "knowledge_graph": { "interests": ["art", "sailing"] },
            "interaction_history": [{ "kind": "call", "date": "2026-10-01", "summary": "Asked about beachfront listings" }],
            "enrichment_sources": [{ "fact": "Budget raised after a liquidity event", "source": "call", "date": "2026-09-12" }]
        })
    };
    futures::stream::iter(0..count)
        .map(|i| async move {
            anyhow::Ok(api.post("/api/v1/personas", &persona(i)).await?["id"].clone())
        })
        .buffered(16)
        .try_collect()
        .await
}

fn listing() -> Value {
    json!({
        "title": "Carbon Beach Modern, Malibu", "price": 38500000,
        "description": "A glass-and-steel beach house with a wine cellar, guest house and ocean views.",
        "location": { "city": "Malibu", "region": "California", "country": "USA" },
        "features": ["wine cellar", "guest house", "ocean views", "infinity pool", "home gym"],
        "photos": [
            { "url": "https://example.com/1.jpg", "description": "Street facade behind a tall hedge" },
            { "url": "https://example.com/2.jpg", "description": "Great room opening to the ocean views" },
            { "url": "https://example.com/3.jpg", "description": "Infinity pool at dusk" },
            { "url": "https://example.com/4.jpg", "description": "Home gym with a cold plunge" }
        ]
    })
}
