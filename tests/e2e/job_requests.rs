//! Jobs go through the store's outbox: a run whose job the queue never got, or lost (Redis
//! restarted empty), is pushed again by the workers' dispatcher and runs once; the same
//! Idempotency-Key answers the same run throughout, and never hands back a failed one.

use std::time::Duration;

use mock_llm::MockConfig;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Options, Shape, TestApp, both_shapes, seed};

both_shapes!(
    a_job_the_queue_never_got_runs_once,
    a_retry_after_a_failed_run_starts_anew
);

/// The dispatcher looks often, so the tests wait on the job, not on the sweep.
fn quick_sweeps() -> Vec<(&'static str, String)> {
    vec![
        ("TROUPE_JOB_SWEEP_MS", "100".into()),
        ("TROUPE_JOB_RECHECK_SECS", "1".into()),
    ]
}

async fn submit_keyed(app: &TestApp, path: &str, body: &Value, key: &str) -> Value {
    let request = app
        .client()
        .post(format!("{}{path}", app.base))
        .bearer_auth(&app.key)
        .header("Idempotency-Key", key)
        .json(body);
    let reply = app.raw(request).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    reply.body
}

async fn completed_events(app: &TestApp, simulation_id: &str) -> usize {
    app.events()
        .await
        .iter()
        .filter(|e| e.kind == "simulation.completed" && e.subject_id.to_string() == simulation_id)
        .count()
}

/// The API commits the simulation and its job request, then the queue forgets the job before
/// any worker takes it (a submitter killed between commit and push leaves the same): the
/// worker's dispatcher pushes the request, and the simulation runs once.
async fn a_job_the_queue_never_got_runs_once(shape: Shape) {
    let options = Options {
        workers: 0,
        api_only: true,
        vars: quick_sweeps(),
        ..Options::default()
    };
    let mut app = TestApp::spawn_with(shape, options).await;
    let property_id = seed(&app).await;
    let body = json!({ "property_id": property_id, "persona_segments": ["tech"], "questions": ["Would you view it?"] });
    let path = "/api/v1/simulations/focus-group";
    let accepted = submit_keyed(&app, path, &body, "lost-1").await;
    let id = accepted["id"].as_str().unwrap().to_owned();
    app.lose_queued_jobs().await;

    app.start_worker();
    let status = app.wait_for_final(&id, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["attempts"], 1, "{status}");
    assert_eq!(completed_events(&app, &id).await, 1);
    // Two tech personas, one question, the listing's two modifications: one run's calls.
    assert_eq!(app.mock.stats().completed, 6);
    let again = submit_keyed(&app, path, &body, "lost-1").await;
    assert_eq!(
        again["id"], accepted["id"],
        "the key still answers the same run"
    );
    assert_eq!(
        app.store().await.unsettled_job_requests().await.unwrap(),
        0,
        "a finished run leaves no request behind"
    );
}

/// A simulation or match run that failed is not what a retry with its key gets back: the
/// retry starts a new run, which the key then answers.
async fn a_retry_after_a_failed_run_starts_anew(shape: Shape) {
    let options = Options {
        workers: 0,
        api_only: true,
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let property_id = seed(&app).await;
    let store = app.store().await;

    let body =
        json!({ "property_id": property_id, "persona_segments": ["tech"], "questions": ["?"] });
    let path = "/api/v1/simulations/focus-group";
    let first = submit_keyed(&app, path, &body, "retry-1").await;
    let first_id: Uuid = first["id"].as_str().unwrap().parse().unwrap();
    store
        .fail_simulation(first_id, None, "the worker gave up", None)
        .await
        .unwrap();
    let retried = submit_keyed(&app, path, &body, "retry-1").await;
    assert_ne!(
        retried["id"], first["id"],
        "a failed run is not handed back"
    );
    assert_eq!(retried["status"], "pending");
    let replayed = submit_keyed(&app, path, &body, "retry-1").await;
    assert_eq!(
        replayed["id"], retried["id"],
        "the key now answers the new run"
    );

    let path = "/api/v1/matching/property-to-clients";
    let body = json!({ "property_id": property_id });
    let first = submit_keyed(&app, path, &body, "match-1").await;
    let first_id: Uuid = first["id"].as_str().unwrap().parse().unwrap();
    store
        .fail_match_run(first_id, "the worker gave up")
        .await
        .unwrap();
    let retried = submit_keyed(&app, path, &body, "match-1").await;
    assert_ne!(
        retried["id"], first["id"],
        "a failed match run is not handed back"
    );
    let replayed = submit_keyed(&app, path, &body, "match-1").await;
    assert_eq!(replayed["id"], retried["id"]);
}

/// Redis restarted empty while simulations wait and one runs: every one of them finishes, each
/// with exactly one result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_a_restarted_redis_forgot_run_once() {
    let mut vars = quick_sweeps();
    vars.push(("TROUPE_WORKER_CONCURRENCY", "1".into()));
    let options = Options {
        workers: 1,
        mock: MockConfig {
            latency_ms: (150, 300),
            ..MockConfig::default()
        },
        vars,
        ..Options::default()
    };
    let app = TestApp::spawn_with(Shape::Distributed, options).await;
    let property_id = seed(&app).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let body = json!({ "property_id": property_id, "persona_segments": ["finance"], "questions": [format!("Question {n}?")] });
        let accepted = submit_keyed(
            &app,
            "/api/v1/simulations/focus-group",
            &body,
            &format!("wipe-{n}"),
        )
        .await;
        ids.push(accepted["id"].as_str().unwrap().to_owned());
    }
    // Wait for the first to be running, then forget everything Redis held.
    let started = std::time::Instant::now();
    loop {
        let status = app
            .get(&format!("/api/v1/simulations/{}/status", ids[0]))
            .await;
        if status.body["status"] != "pending" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never started: {}",
            status.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.lose_queued_jobs().await;

    for id in &ids {
        let status = app.wait_for_final(id, Duration::from_secs(90)).await;
        assert_eq!(status["status"], "completed", "{status}");
        assert_eq!(completed_events(&app, id).await, 1, "{id} finished once");
        let results = app.get(&format!("/api/v1/simulations/{id}/results")).await;
        assert_eq!(results.status, 200, "{}", results.body);
    }
}
