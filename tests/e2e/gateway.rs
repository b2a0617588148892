//! The LLM gateway over real HTTP: cached replays, token budgets, timeouts, and one provider key's
//! rate limit shared by several worker processes.

use std::time::Duration;

use mock_llm::{Fault, MockConfig};
use serde_json::{Value, json};

use crate::helpers::{Options, Shape, TestApp, both_shapes, persona, seed};

both_shapes!(
    a_repeated_simulation_with_the_same_seed_costs_nothing,
    a_run_that_would_exceed_its_budget_fails_with_what_it_spent,
    a_hung_call_times_out_and_is_retried
);

async fn run(app: &TestApp, request: &Value) -> (Value, Value) {
    let accepted = app.post("/api/v1/simulations/focus-group", request).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap();
    let status = app.wait_for_final(id, Duration::from_secs(60)).await;
    let results = app
        .get(&format!("/api/v1/simulations/{id}/results"))
        .await
        .body;
    (status, results)
}

async fn a_repeated_simulation_with_the_same_seed_costs_nothing(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let property_id = seed(&app).await;
    let request = json!({
        "property_id": property_id,
        "persona_segments": ["finance", "tech"],
        "questions": ["First impression?", "Would you buy?"],
        "modifications_to_test": [],
        "simulation_params": { "seed": 11 }
    });
    let (first_status, first) = run(&app, &request).await;
    assert_eq!(first_status["status"], "completed");
    let calls = app.mock.stats().completed;
    assert_eq!(calls, 8);

    let (second_status, second) = run(&app, &request).await;
    assert_eq!(second_status["status"], "completed");
    assert_eq!(
        app.mock.stats().completed,
        calls,
        "the replay made no calls"
    );
    assert_eq!(second["metadata"]["cache_hits"], 8);
    assert_eq!(second["metadata"]["llm_calls"], 0);
    assert_eq!(second["metadata"]["cost_estimate_usd"], 0.0);
    assert_eq!(
        first["results"], second["results"],
        "same seed, same results"
    );
}

async fn a_run_that_would_exceed_its_budget_fails_with_what_it_spent(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let property_id = seed(&app).await;
    let mut request = json!({
        "property_id": property_id,
        "persona_segments": ["finance", "tech"],
        "questions": ["First impression?", "Would you buy?"],
        "modifications_to_test": [],
        "simulation_params": { "token_budget": 3000 }
    });
    let (status, results) = run(&app, &request).await;
    assert_eq!(status["status"], "failed", "{status}");
    let reason = status["error"].as_str().unwrap();
    assert!(reason.contains("token budget of 3000"), "{reason}");
    let spent = results["metadata"]["tokens_used"].as_u64().unwrap();
    assert!(spent > 0 && spent <= 3000, "{results}");
    assert_eq!(results["metadata"]["token_budget"], 3000);

    request["simulation_params"]["token_budget"] = json!(u64::MAX);
    app.post("/api/v1/simulations/focus-group", &request)
        .await
        .problem(422);
}

async fn a_hung_call_times_out_and_is_retried(shape: Shape) {
    let options = Options {
        vars: vec![("TROUPE_LLM_TIMEOUT_SECS", "1".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    app.mock.inject(Fault {
        kind: "hang".into(),
        status: None,
        count: 1,
    });
    let id = app
        .create_persona(&persona("Solo", "tech", &["pool"], &[], 3e7))
        .await["id"]
        .clone();
    let property = app.create_property(&crate::helpers::listing()).await;
    let request = json!({ "property_id": property["id"], "persona_ids": [id], "questions": ["Buy?"], "modifications_to_test": [] });
    let (status, results) = run(&app, &request).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(results["metadata"]["retries"], 1);
    assert_eq!(results["metadata"]["llm_calls"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_sharing_a_key_stay_under_its_limit() {
    // The mock allows 600 requests a minute with 6 s of burst; each worker alone may send 600.
    // Two workers would send twice that if they did not share the budget through Redis.
    let options = Options {
        workers: 2,
        mock: MockConfig {
            rpm: Some(600),
            burst_seconds: 6,
            ..MockConfig::default()
        },
        vars: vec![
            ("TROUPE_LLM_RPM", "600".into()),
            ("TROUPE_LLM_TPM", "100000000".into()),
            ("TROUPE_WORKER_CONCURRENCY", "1".into()),
        ],
        ..Options::default()
    };
    let app = TestApp::spawn_with(Shape::Distributed, options).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            app.create_persona(&persona(&format!("P{i}"), "tech", &["pool"], &[], 3e7))
                .await["id"]
                .clone(),
        );
    }
    let property = app.create_property(&crate::helpers::listing()).await;
    let mut simulations = Vec::new();
    for run in 0..2 {
        // Different seeds: no answer can come from the cache.
        let request = json!({
            "property_id": property["id"], "persona_ids": ids, "questions": ["A?", "B?", "C?"], "modifications_to_test": [],
            "simulation_params": { "seed": run }
        });
        let accepted = app.post("/api/v1/simulations/focus-group", &request).await;
        simulations.push(accepted.body["id"].as_str().unwrap().to_owned());
    }
    for id in &simulations {
        let status = app.wait_for_final(id, Duration::from_secs(90)).await;
        assert_eq!(status["status"], "completed", "{status}");
    }
    let stats = app.mock.stats();
    assert_eq!(stats.completed, 120);
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
}
