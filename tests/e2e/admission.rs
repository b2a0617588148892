//! Admission and fairness: a brokerage with as many simulations waiting or running as it may gets
//! a 429 with `Retry-After` for the next one, while its repeated submits still replay and other
//! brokerages submit as before; and one brokerage's backlog does not queue ahead of another's
//! new simulation.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::json;
use troupe_shared::domain::Role;

use crate::helpers::{Options, Shape, TestApp, both_shapes, listing, persona};

both_shapes!(
    a_brokerage_at_its_limit_waits_and_others_do_not,
    a_backlog_of_one_brokerage_does_not_queue_ahead_of_another
);

async fn a_brokerage_at_its_limit_waits_and_others_do_not(shape: Shape) {
    let options = Options {
        workers: 0,
        api_only: true,
        vars: vec![("TROUPE_SIMULATION_MAX_ACTIVE", "2".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let property = app.create_property(&listing()).await;
    let client = app
        .create_persona(&persona("Ada", "finance", &["wine cellar"], &[], 3e7))
        .await;
    let body =
        json!({ "property_id": property["id"], "persona_ids": [client["id"]], "questions": ["?"] });
    let submit = |key: &'static str| {
        app.raw(
            app.client()
                .post(format!("{}/api/v1/simulations/focus-group", app.base))
                .bearer_auth(&app.key)
                .header("Idempotency-Key", key)
                .json(&body),
        )
    };
    let first = submit("one").await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(submit("two").await.status, 202);

    let refused = submit("three").await;
    assert_eq!(
        refused.problem(429),
        "https://troupe.dev/problems/too-many-requests"
    );
    assert_eq!(refused.headers["retry-after"], "30");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("2 simulations waiting or running"),
        "{detail}"
    );
    let replayed = submit("one").await;
    assert_eq!(replayed.status, 202, "a repeated submit still replays");
    assert_eq!(replayed.body["id"], first.body["id"]);
    let listed = app.get("/api/v1/simulations").await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        2,
        "nothing stored for the 429"
    );

    // Another brokerage is not held back by the first one's queue.
    let rival = app
        .key_for("Rival Estates", None, "rita", Role::Agent)
        .await;
    let theirs = app
        .request(
            Method::POST,
            "/api/v1/properties",
            Some(&rival),
            Some(&listing()),
        )
        .await;
    let their_client = app
        .request(
            Method::POST,
            "/api/v1/personas",
            Some(&rival),
            Some(&persona("Bo", "tech", &["gym"], &[], 2e7)),
        )
        .await;
    let accepted = app
        .request(
            Method::POST,
            "/api/v1/simulations/focus-group",
            Some(&rival),
            Some(&json!({ "property_id": theirs.body["id"], "persona_ids": [their_client.body["id"]], "questions": ["?"] })),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);

    // Once one finishes, the brokerage may submit again.
    let cancelled = app
        .post(
            &format!(
                "/api/v1/simulations/{}/cancel",
                first.body["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(submit("three").await.status, 202);
}

async fn a_backlog_of_one_brokerage_does_not_queue_ahead_of_another(shape: Shape) {
    // No worker while the submits arrive, so the queue's order is the one they made.
    let options = Options {
        workers: 0,
        api_only: true,
        vars: vec![("TROUPE_SIMULATION_QUEUE_SHARE", "2".into())],
        ..Options::default()
    };
    let mut app = TestApp::spawn_with(shape, options).await;
    let submit_as = async |key: &str| {
        let property = app
            .request(
                Method::POST,
                "/api/v1/properties",
                Some(key),
                Some(&listing()),
            )
            .await;
        let client = app
            .request(
                Method::POST,
                "/api/v1/personas",
                Some(key),
                Some(&persona("Ada", "finance", &["wine cellar"], &[], 3e7)),
            )
            .await;
        let body = json!({ "property_id": property.body["id"], "persona_ids": [client.body["id"]], "questions": ["?"] });
        let accepted = app
            .request(
                Method::POST,
                "/api/v1/simulations/focus-group",
                Some(key),
                Some(&body),
            )
            .await;
        assert_eq!(accepted.status, 202, "{}", accepted.body);
        accepted.body["id"].as_str().unwrap().to_owned()
    };
    let mut flood = Vec::new();
    for _ in 0..6 {
        flood.push(submit_as(&app.key).await);
    }
    let rival = app
        .key_for("Rival Estates", None, "rita", Role::Agent)
        .await;
    let single = submit_as(&rival).await;

    app.start_process("worker");
    let mut flood_started = Vec::new();
    for id in &flood {
        flood_started.push(started_at(&app, &app.key, id).await);
    }
    let rival_started = started_at(&app, &rival, &single).await;
    // Only the first two of the six were in the queue ahead of the rival's one; the rest went in
    // as those started, behind it. (FIFO alone would have started four or more before it.)
    let ahead = flood_started
        .iter()
        .filter(|at| **at < rival_started)
        .count();
    assert!(
        ahead <= 3,
        "{ahead} of the flood started before the other brokerage's simulation"
    );
}

/// When the simulation `id` started, once it has completed (every held one runs, in its turn).
async fn started_at(app: &TestApp, key: &str, id: &str) -> DateTime<Utc> {
    let started = Instant::now();
    loop {
        let simulation = app
            .request(
                Method::GET,
                &format!("/api/v1/simulations/{id}/status"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(simulation.status, 200, "{}", simulation.body);
        match simulation.body["status"].as_str() {
            Some("completed") => {
                return serde_json::from_value(simulation.body["started_at"].clone()).unwrap();
            }
            Some("pending" | "running") => {}
            _ => panic!("simulation {id} did not complete: {}", simulation.body),
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "simulation {id} not finished in a minute: {}",
            simulation.body
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
