//! A worker killed with SIGKILL mid-job loses nothing: another worker picks the simulation up and
//! completes it once, and the dead run can never write a second result.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use mock_llm::MockConfig;
use serde_json::{Value, json};
use tokio::process::Command;
use troupe::client::ApiClient;

use crate::helpers::{Options, Shape, TestApp, persona};

const POLL: Duration = Duration::from_millis(10);
/// Recovery must finish within this long after the kill.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(15);

fn slow_mock() -> MockConfig {
    MockConfig {
        latency_ms: (300, 400),
        ..MockConfig::default()
    }
}

async fn submit_slow_focus_group(app: &TestApp) -> String {
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(
            app.create_persona(&persona(&format!("P{i}"), "tech", &["pool"], &[], 3e7))
                .await["id"]
                .clone(),
        );
    }
    let property = app.create_property(&crate::helpers::listing()).await;
    // Three questions in sequence at ~350 ms each: a run takes about a second.
    let request = json!({ "property_id": property["id"], "persona_ids": ids, "questions": ["A?", "B?", "C?"], "modifications_to_test": [] });
    let accepted = app.post("/api/v1/simulations/focus-group", &request).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    accepted.body["id"].as_str().unwrap().to_owned()
}

async fn wait_until_running(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = app
            .get(&format!("/api/v1/simulations/{id}/status"))
            .await
            .body;
        if status["status"] == "running" {
            return status;
        }
        assert!(Instant::now() < deadline, "never started: {status}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_a_killed_worker_s_simulation_completes_on_another() {
    let mut app = TestApp::spawn_with(
        Shape::Distributed,
        Options {
            workers: 2,
            mock: slow_mock(),
            ..Options::default()
        },
    )
    .await;
    let id = submit_slow_focus_group(&app).await;
    wait_until_running(&app, &id).await;

    // Kill whichever worker process claimed it (worker names carry the pid).
    let db = app.postgres().await;
    let claimed_by: String = sqlx::query_scalar("SELECT claimed_by FROM simulations WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&id).unwrap())
        .fetch_one(&db)
        .await
        .unwrap();
    let victim = app
        .workers
        .iter_mut()
        .find(|w| {
            w.id()
                .is_some_and(|pid| claimed_by.starts_with(&format!("troupe-worker-{pid}-")))
        })
        .expect("the claiming worker is one of ours");
    victim.start_kill().unwrap();
    victim.wait().await.unwrap();
    let killed_at = Instant::now();

    let status = app.wait_for_final(&id, RECOVERY_DEADLINE).await;
    let recovery = killed_at.elapsed();
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["attempts"], 2, "{status}");
    assert!(recovery < RECOVERY_DEADLINE, "{recovery:?}");

    let results = app
        .get(&format!("/api/v1/simulations/{id}/results"))
        .await
        .body;
    assert_eq!(
        results["results"]["raw_responses"]
            .as_array()
            .unwrap()
            .len(),
        12
    );
    let (rows, finisher): (i64, Option<String>) =
        sqlx::query_as("SELECT COUNT(*), MAX(claimed_by) FROM simulations WHERE id = $1")
            .bind(uuid::Uuid::parse_str(&id).unwrap())
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(rows, 1);
    assert_ne!(
        finisher.as_deref(),
        Some(claimed_by.as_str()),
        "the survivor finished it"
    );
    eprintln!("recovered {recovery:?} after SIGKILL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_killed_process_s_simulation_completes_after_restart() {
    // The embedded shape is one process, so the whole `troupe serve` is killed and started again
    // on the same SQLite file.
    let mock = mock_llm::MockLlm::start(slow_mock()).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let vars = [
        (
            "TROUPE_DATABASE_URL",
            format!("sqlite://{}", scratch.path().join("troupe.db").display()),
        ),
        ("TROUPE_BIND", "127.0.0.1:0".to_owned()),
        ("TROUPE_LLM_BASE_URL", mock.base_url()),
        ("TROUPE_WORKER_HEARTBEAT_MS", "1000".to_owned()),
        ("TROUPE_LOG", "warn".to_owned()),
    ];
    let troupe = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_troupe"));
        command
            .args(args)
            .env_clear()
            .envs(vars.clone())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        command
    };
    let keys = troupe(&["keys", "create", "--brokerage", "Acme", "--role", "agent"])
        .output()
        .await
        .unwrap();
    assert!(keys.status.success());
    let key = String::from_utf8(keys.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();

    let (mut first, base) = serve(troupe(&["serve"])).await;
    let client = ApiClient::new(base, key);
    let id = submit_with(&client).await;
    let running = |s: &Value| s["status"] == "running";
    client
        .wait_for(&id, running, POLL, Duration::from_secs(20))
        .await
        .unwrap();
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let killed_at = Instant::now();

    let (_second, base) = serve(troupe(&["serve"])).await;
    let client = client.at(base);
    let completed = |s: &Value| s["status"] == "completed";
    let status = client
        .wait_for(&id, completed, POLL, RECOVERY_DEADLINE)
        .await
        .unwrap();
    assert_eq!(status["attempts"], 2, "{status}");
    eprintln!("recovered {:?} after SIGKILL", killed_at.elapsed());
}

/// Starts `troupe serve` and reads the address it prints.
async fn serve(mut command: Command) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("troupe serve starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = line
        .strip_prefix("listening on ")
        .expect("address line")
        .to_owned();
    (child, base)
}

async fn submit_with(client: &ApiClient) -> String {
    let mut ids = Vec::new();
    for i in 0..4 {
        let body = persona(&format!("P{i}"), "tech", &["pool"], &[], 3e7);
        ids.push(client.post("/api/v1/personas", &body).await.unwrap()["id"].clone());
    }
    let property = client
        .post("/api/v1/properties", &crate::helpers::listing())
        .await
        .unwrap();
    let request = json!({ "property_id": property["id"], "persona_ids": ids, "questions": ["A?", "B?", "C?"], "modifications_to_test": [] });
    let accepted = client
        .post("/api/v1/simulations/focus-group", &request)
        .await
        .unwrap();
    accepted["id"].as_str().unwrap().to_owned()
}

/// An enrichment run whose worker is SIGKILLed mid-extraction is finished by the next worker,
/// once: one new version, each fact stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_a_killed_worker_s_enrichment_completes_once_on_another() {
    let mut app = TestApp::spawn_with(
        Shape::Distributed,
        Options {
            workers: 1,
            mock: MockConfig {
                latency_ms: (700, 800),
                ..MockConfig::default()
            },
            ..Options::default()
        },
    )
    .await;
    let id = app
        .create_persona(&persona("Wren Ashby", "tech", &["pool"], &[], 3e7))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Three sources read one after another at ~750 ms each.
    let sources: Vec<Value> = [
        "Client: Our budget is now up to $41M.",
        "Client: She loves a boat dock.",
        "Client: A golf course view is a deal-breaker.",
    ]
    .iter()
    .map(|text| json!({ "kind": "note", "content": text, "occurred_on": "2026-06-01" }))
    .collect();
    let accepted = app
        .post(
            &format!("/api/v1/personas/{id}/enrich"),
            &json!({ "sources": sources }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let location = accepted.headers["location"].to_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get(&location).await.body["status"] != "running" {
        assert!(Instant::now() < deadline, "never started");
        tokio::time::sleep(POLL).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let victim = &mut app.workers[0];
    victim.start_kill().unwrap();
    victim.wait().await.unwrap();
    app.start_worker();

    let run = crate::enrichment::wait_for(&app, &location).await;
    assert_eq!(run["facts"]["applied"], 3, "{run}");
    let persona = app.get(&format!("/api/v1/personas/{id}")).await.body;
    assert_eq!(persona["version"], 2, "one new version");
    assert_eq!(persona["preferences"]["budget"]["max"], 4.1e7);
    let facts = app.get(&format!("/api/v1/personas/{id}/facts")).await.body;
    assert_eq!(facts.as_array().unwrap().len(), 3, "{facts}");
}
