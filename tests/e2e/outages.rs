//! A dependency down answers 503 `unavailable` with `Retry-After`, never a 500; `/readyz` names
//! what is down. The test runs a Redis of its own and stops it.

use std::{process::Stdio, time::Duration};

use serde_json::json;
use tokio::process::Command;

use crate::helpers::{Options, Shape, TestApp, listing, persona};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_outage_answers_503_and_readyz_names_it() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut redis = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server runs (scripts/test.sh installs it)");
    let url = format!("redis://127.0.0.1:{port}");
    for _ in 0..100 {
        if redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let app = TestApp::spawn_with(
        Shape::Distributed,
        Options {
            workers: 0,
            vars: vec![("TROUPE_REDIS_URL", url)],
            ..Options::default()
        },
    )
    .await;
    let ready = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let property = app.create_property(&listing()).await;
    let client = app
        .create_persona(&persona("Ada", "finance", &["wine cellar"], &[], 3e7))
        .await;

    redis.kill().await.unwrap();
    let ready = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await;
    assert!(
        ready.problem(503).ends_with("/unavailable"),
        "{}",
        ready.body
    );
    let detail = ready.body["detail"].as_str().unwrap();
    assert!(detail.contains("the job queue (Redis) is down"), "{detail}");
    assert!(!detail.contains("the database is down"), "{detail}");
    assert!(ready.headers.contains_key("retry-after"));

    // Reads that need only the database go on; a submit says the queue is unavailable.
    let listed = app.get("/api/v1/personas").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let submit = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({ "property_id": property["id"], "persona_ids": [client["id"]], "questions": ["?"] }),
        )
        .await;
    assert!(
        submit.problem(503).ends_with("/unavailable"),
        "{}",
        submit.body
    );
    assert!(
        submit.headers.contains_key("retry-after"),
        "{:?}",
        submit.headers
    );
    assert!(
        !submit.body.to_string().contains("internal"),
        "{}",
        submit.body
    );
}
