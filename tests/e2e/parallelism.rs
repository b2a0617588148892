//! How wide a simulation's rounds run: as wide as the provider key keeps busy, up to
//! `TROUPE_AGENT_PARALLELISM`. A generous key gets a whole round at once; on a small key a big
//! panel queues only what the key can take, so another simulation's calls are not stuck behind
//! it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mock_llm::MockConfig;
use serde_json::{Value, json};

use crate::helpers::{Options, Shape, TestApp, both_shapes, listing, persona};

both_shapes!(
    a_generous_key_takes_a_whole_round_at_once,
    a_small_key_does_not_park_a_big_panel_ahead_of_others
);

async fn spawn(shape: Shape, rpm: u32, latency_ms: u64) -> TestApp {
    TestApp::spawn_with(
        shape,
        Options {
            mock: MockConfig {
                latency_ms: (latency_ms, latency_ms),
                ..MockConfig::default()
            },
            vars: vec![
                ("TROUPE_LLM_RPM", rpm.to_string()),
                ("TROUPE_LLM_TPM", "100000000".to_owned()),
            ],
            ..Options::default()
        },
    )
    .await
}

async fn panel(app: &TestApp, size: usize) -> Vec<Value> {
    let mut ids = Vec::with_capacity(size);
    for i in 0..size {
        let body = persona(
            &format!("Client {i}"),
            "coastal",
            &["ocean views"],
            &[],
            30e6,
        );
        ids.push(app.create_persona(&body).await["id"].clone());
    }
    ids
}

async fn submit(app: &TestApp, path: &str, body: &Value) -> String {
    let accepted = app.post(path, body).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    accepted.body["id"].as_str().expect("id").to_owned()
}

async fn completed_at(app: &TestApp, id: &str) -> DateTime<Utc> {
    let status = app.wait_for_final(id, Duration::from_secs(90)).await;
    assert_eq!(status["status"], "completed", "{status}");
    status["completed_at"]
        .as_str()
        .expect("completed_at")
        .parse()
        .expect("a time")
}

async fn a_generous_key_takes_a_whole_round_at_once(shape: Shape) {
    let app = spawn(shape, 100_000, 300).await;
    let property = app.create_property(&listing()).await["id"].clone();
    let ids = panel(&app, 80).await;
    let body = json!({
        "property_id": property, "persona_ids": ids,
        "questions": ["First impression?"], "modifications_to_test": []
    });
    let id = submit(&app, "/api/v1/simulations/focus-group", &body).await;
    completed_at(&app, &id).await;
    let stats = app.mock.stats();
    assert!(
        stats.max_in_flight >= 80,
        "the 80 first impressions went out together, not in waves: {} at most at once",
        stats.max_in_flight
    );
}

async fn a_small_key_does_not_park_a_big_panel_ahead_of_others(shape: Shape) {
    // 120 requests a minute: a 6-call burst, then 2 a second, so 30 answers take about 12 s.
    let app = spawn(shape, 120, 100).await;
    let property = app.create_property(&listing()).await["id"].clone();
    let ids = panel(&app, 30).await;
    let big = json!({
        "property_id": property, "persona_ids": ids,
        "questions": ["First impression?"], "modifications_to_test": []
    });
    let big = submit(&app, "/api/v1/simulations/focus-group", &big).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let single = json!({
        "persona_id": ids[0],
        "scenario": { "type": "property_viewing", "context": { "property": "Carbon Beach Modern" } }
    });
    let single = submit(&app, "/api/v1/simulations/individual", &single).await;
    let (single_done, big_done) = (
        completed_at(&app, &single).await,
        completed_at(&app, &big).await,
    );
    let ahead = (big_done - single_done).num_milliseconds();
    assert!(
        ahead >= 5000,
        "the single run queued behind only what the key could take, not the whole panel: it \
         finished {ahead} ms before the panel"
    );
    let stats = app.mock.stats();
    assert!(
        stats.max_in_flight <= 8,
        "{} calls at once",
        stats.max_in_flight
    );
    assert_eq!(stats.rate_limited, 0);
}
