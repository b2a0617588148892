//! A dependency down answers 503 `unavailable` with `Retry-After`, never a 500; `/readyz` names
//! what is down; work submitted while the queue is down is accepted and runs once it is back.
//! The tests run a Redis of their own, stop it and start it again empty, and reach PostgreSQL
//! through a link they cut and restore.

use std::{process::Stdio, time::Duration};

use serde_json::json;
use tokio::process::Command;

use crate::{
    cut_link::CutLink,
    helpers::{Options, Shape, TestApp, listing, persona, postgres_address},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_outage_is_named_and_its_submits_run_when_it_is_back() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut redis = start_redis(port).await;
    let url = format!("redis://127.0.0.1:{port}");
    let app = TestApp::spawn_with(
        Shape::Distributed,
        Options {
            workers: 1,
            vars: vec![
                ("TROUPE_REDIS_URL", url),
                ("TROUPE_JOB_SWEEP_MS", "200".into()),
            ],
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

    // Reads that need only the database go on; a submit is accepted, and its retry with the
    // same key answers the same simulation rather than a failed one.
    let listed = app.get("/api/v1/personas").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let submit = || {
        let body = json!({ "property_id": property["id"], "persona_ids": [client["id"]], "questions": ["?"] });
        app.raw(
            app.client()
                .post(format!("{}/api/v1/simulations/focus-group", app.base))
                .bearer_auth(&app.key)
                .header("Idempotency-Key", "during-outage")
                .json(&body),
        )
    };
    let accepted = submit().await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let retried = submit().await;
    assert_eq!(retried.status, 202, "{}", retried.body);
    assert_eq!(retried.body["id"], accepted.body["id"]);
    assert_eq!(retried.body["status"], "pending");

    // Redis comes back with nothing in it: the workers' dispatcher queues the simulation.
    redis = start_redis(port).await;
    let id = accepted.body["id"].as_str().unwrap();
    let status = app.wait_for_final(id, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["attempts"], 1, "{status}");
    redis.kill().await.unwrap();
}

/// A `redis-server` of the test's own on `port`, keeping nothing on disk, once it answers.
async fn start_redis(port: u16) -> tokio::process::Child {
    let redis = Command::new("redis-server")
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
    redis
}

/// PostgreSQL cut away: a read and a submit answer 503 `unavailable` with `Retry-After` once the
/// pool gives up waiting (`TROUPE_DATABASE_ACQUIRE_TIMEOUT_MS`), `/readyz` names the database,
/// and once it is back the same requests succeed without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_and_passes() {
    let link = CutLink::to(&postgres_address()).await;
    let app = TestApp::spawn_with(
        Shape::Distributed,
        Options {
            workers: 0,
            postgres_port: Some(link.port),
            vars: vec![("TROUPE_DATABASE_ACQUIRE_TIMEOUT_MS", "1000".into())],
            ..Options::default()
        },
    )
    .await;
    let property = app.create_property(&listing()).await;
    let client = app
        .create_persona(&persona("Ada", "finance", &["wine cellar"], &[], 3e7))
        .await;
    let path = format!("/api/v1/personas/{}", client["id"].as_str().unwrap());
    let body =
        json!({ "property_id": property["id"], "persona_ids": [client["id"]], "questions": ["?"] });

    link.cut();
    let read = app.get(&path).await;
    assert!(read.problem(503).ends_with("/unavailable"), "{}", read.body);
    assert!(
        read.headers.contains_key("retry-after"),
        "{:?}",
        read.headers
    );
    assert!(!read.body.to_string().contains("internal"), "{}", read.body);
    let submit = app.post("/api/v1/simulations/focus-group", &body).await;
    assert!(
        submit.problem(503).ends_with("/unavailable"),
        "{}",
        submit.body
    );
    let ready = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await;
    let detail = ready.body["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains("the database is down"), "{}", ready.body);
    assert!(
        !detail.contains("the job queue (Redis) is down"),
        "{detail}"
    );

    link.restore();
    let started = std::time::Instant::now();
    while app.get(&path).await.status != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never recovered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let submit = app.post("/api/v1/simulations/focus-group", &body).await;
    assert_eq!(submit.status, 202, "{}", submit.body);
}
