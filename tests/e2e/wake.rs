//! Idle workers are woken by a push, not found by their poll: with the fallback poll set to a
//! minute, submitted simulations still start within seconds (a polled pick-up would wait up to
//! the minute). Embedded, the pusher rings the consumers of its own process; distributed, the
//! push is announced on Redis to the `troupe worker` process.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::helpers::{Options, Shape, TestApp, both_shapes};

both_shapes!(an_idle_worker_is_woken_by_a_push);

/// Far beyond the fallback a woken worker needs, far below the poll.
const WOKEN_WITHIN: chrono::TimeDelta = chrono::TimeDelta::seconds(3);

async fn an_idle_worker_is_woken_by_a_push(shape: Shape) {
    let options = Options {
        vars: vec![("TROUPE_WORKER_POLL_MS", "60000".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let persona = app
        .create_persona(&json!({ "name": "Harrison Vale", "segment": "finance" }))
        .await;
    let body = json!({
        "persona_id": persona["id"],
        "scenario": { "type": "property_viewing", "context": { "property": "Carbon Beach Modern" } }
    });
    // The first run also waits for the worker to start (it looks once when it does).
    for run in 0..4 {
        let accepted = app.post("/api/v1/simulations/individual", &body).await;
        assert_eq!(accepted.status, 202, "{}", accepted.body);
        let id = accepted.body["id"].as_str().expect("id").to_owned();
        let status = app.wait_for_final(&id, Duration::from_secs(90)).await;
        assert_eq!(status["status"], "completed", "{status}");
        if run == 0 {
            continue;
        }
        let time = |field: &str| -> DateTime<Utc> {
            status[field]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("{field} in {status}"))
        };
        let waited = time("started_at") - time("created_at");
        assert!(
            waited < WOKEN_WITHIN,
            "run {run} waited {waited} for an idle worker (the poll is a minute): {status}"
        );
    }
}
