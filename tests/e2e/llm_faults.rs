//! The provider answering 429/500/garbage: transient errors are retried, a malformed reply is
//! asked for again, and what cannot succeed fails the simulation with a reason a user can read.

use std::time::Duration;

use mock_llm::Fault;
use serde_json::{Value, json};

use crate::helpers::{Shape, TestApp, both_shapes, persona};

both_shapes!(
    transient_provider_errors_are_retried,
    a_malformed_reply_is_asked_for_again,
    unusable_replies_fail_the_simulation_with_a_reason,
    a_rejected_key_fails_fast_with_a_reason,
    a_refused_prompt_costs_its_step_and_is_named,
    a_self_contradicting_reply_is_asked_again_then_rejected,
);

/// One persona, one question: exactly one agent step.
async fn one_step(app: &TestApp) -> Value {
    let id = app
        .create_persona(&persona("Solo", "tech", &["pool"], &[], 3e7))
        .await["id"]
        .clone();
    let property = app.create_property(&crate::helpers::listing()).await;
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({ "property_id": property["id"], "persona_ids": [id], "questions": ["Buy?"], "modifications_to_test": [] }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let status = app.wait_for_final(&id, Duration::from_secs(60)).await;
    let results = app
        .get(&format!("/api/v1/simulations/{id}/results"))
        .await
        .body;
    json!({ "status": status, "results": results })
}

fn fault(kind: &str, status: Option<u16>, count: u64) -> Fault {
    Fault {
        kind: kind.into(),
        status,
        count,
    }
}

async fn transient_provider_errors_are_retried(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    app.mock.inject(fault("status", Some(500), 2));
    app.mock.inject(fault("status", Some(429), 1));
    let run = one_step(&app).await;
    assert_eq!(run["status"]["status"], "completed", "{run}");
    assert_eq!(run["results"]["metadata"]["failed_steps"], 0);
    assert_eq!(run["results"]["metadata"]["llm_calls"], 1);
    let stats = app.mock.stats();
    assert_eq!((stats.requests, stats.faults, stats.completed), (4, 3, 1));
}

async fn a_malformed_reply_is_asked_for_again(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    app.mock.inject(fault("malformed", None, 1));
    let run = one_step(&app).await;
    assert_eq!(run["status"]["status"], "completed", "{run}");
    assert_eq!(run["results"]["metadata"]["failed_steps"], 0);
    // Both calls cost tokens and are accounted.
    assert_eq!(run["results"]["metadata"]["llm_calls"], 2);
}

async fn unusable_replies_fail_the_simulation_with_a_reason(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    app.mock.inject(fault("garbage", None, 2));
    let run = one_step(&app).await;
    assert_eq!(run["status"]["status"], "failed", "{run}");
    let reason = run["status"]["error"].as_str().unwrap();
    assert!(reason.contains("not usable JSON"), "{reason}");
    assert_eq!(run["results"]["results"], Value::Null);
    // The failed step is counted as failed, not as done.
    assert_eq!(run["status"]["progress"]["done"], 0, "{run}");
    assert_eq!(run["status"]["progress"]["failed"], 1, "{run}");
    // The simulation's own events: progress reports come and go with timing; the outcome is
    // announced once, last.
    let events: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind.starts_with("simulation."))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e.kind.as_str())
        .filter(|kind| *kind != "simulation.progress")
        .collect();
    assert_eq!(
        kinds,
        ["simulation.started", "simulation.failed"],
        "{events:?}"
    );
    let failed = events.last().unwrap();
    assert_eq!(failed.kind, "simulation.failed");
    assert_eq!(failed.sequence, events.len() as i64);
    assert_eq!(failed.payload["error"].as_str(), Some(reason));
}

async fn a_rejected_key_fails_fast_with_a_reason(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    app.mock.inject(fault("status", Some(401), 100));
    let run = one_step(&app).await;
    assert_eq!(run["status"]["status"], "failed", "{run}");
    assert!(
        run["status"]["error"].as_str().unwrap().contains("401"),
        "{run}"
    );
    // A 401 is not retried.
    assert_eq!(app.mock.stats().requests, 1);
}

async fn a_refused_prompt_costs_its_step_and_is_named(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let mut ids = Vec::new();
    for name in ["Ada", "Ben", "Cy", "Di"] {
        let created = app
            .create_persona(&persona(name, "tech", &["pool"], &[], 3e7))
            .await;
        ids.push(created["id"].clone());
    }
    let property = app.create_property(&crate::helpers::listing()).await;
    // One prompt refused with a 400 (a content filter, a context too long): that step alone.
    app.mock.inject(fault("status", Some(400), 1));
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({ "property_id": property["id"], "persona_ids": ids, "questions": ["Buy?"],
                     "modifications_to_test": [], "simulation_params": { "seed": 5 } }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let status = app.wait_for_final(&id, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["progress"]["done"], 3, "{status}");
    assert_eq!(status["progress"]["failed"], 1, "{status}");
    let results = app
        .get(&format!("/api/v1/simulations/{id}/results"))
        .await
        .body;
    let failed = results["results"]["failed_steps"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{results}");
    assert!(failed[0]["persona_name"].is_string(), "{results}");
    assert_eq!(failed[0]["step"], "question 1");
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("400"),
        "{results}"
    );
    let summary = results["results"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("1 of 4 agent steps failed (25%"),
        "{summary}"
    );
    assert_eq!(results["metadata"]["failed_steps"], 1);
}

/// "I love it", a price half as much again as the budget and no word of stretching: the reply is
/// asked for once more with the contradiction named; a second such reply costs the step.
async fn a_self_contradicting_reply_is_asked_again_then_rejected(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    app.mock.inject(fault("contradiction", None, 1));
    let run = one_step(&app).await;
    assert_eq!(run["status"]["status"], "completed", "{run}");
    let metadata = &run["results"]["metadata"];
    assert_eq!(metadata["failed_steps"], 0, "{metadata}");
    assert_eq!(metadata["repaired_replies"], 1, "{metadata}");
    assert_eq!(metadata["rejected_replies"], 0, "{metadata}");
    assert_eq!(metadata["llm_calls"], 2, "{metadata}");
    let judgement = &run["results"]["results"]["raw_responses"][0]["judgement"];
    assert!(
        judgement["willingness_to_pay"].as_f64().unwrap_or(0.0) <= 3e7,
        "the repaired reply stands: {judgement}"
    );

    let app = TestApp::spawn(shape).await;
    app.mock.inject(fault("contradiction", None, 2));
    let run = one_step(&app).await;
    assert_eq!(
        run["status"]["status"], "failed",
        "its only step was rejected: {run}"
    );
    let reason = run["status"]["error"].as_str().unwrap();
    assert!(reason.contains("contradicted itself twice"), "{reason}");
    assert!(reason.contains("above the budget ceiling"), "{reason}");
    assert_eq!(run["results"]["metadata"]["rejected_replies"], 1, "{run}");
}
