//! Finding past simulations and stopping running ones: `GET /simulations` with its filters and
//! pages, and `POST /simulations/{id}/cancel` on a pending, a running and a finished run.

use std::time::{Duration, Instant};

use mock_llm::MockConfig;
use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::domain::Role;

use crate::helpers::{Options, Shape, TestApp, both_shapes, listing, persona};

both_shapes!(
    simulations_are_listed_newest_first_and_filtered,
    a_running_simulation_stops_at_its_next_round_and_keeps_its_answers
);

async fn submit(app: &TestApp, kind: &str, body: Value) -> String {
    let accepted = app
        .post(&format!("/api/v1/simulations/{kind}"), &body)
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    accepted.body["id"].as_str().unwrap().to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {page}"))
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn simulations_are_listed_newest_first_and_filtered(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let ada = app
        .create_persona(&persona("Ada", "finance", &["wine cellar"], &[], 30e6))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut quiet = persona("Quiet Client", "tech", &["gym"], &[], 20e6);
    quiet["visibility"] = json!("private");
    let quiet = app.create_persona(&quiet).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let aspen = app.create_property(&listing()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let focus = submit(
        &app,
        "focus-group",
        json!({ "property_id": aspen, "persona_ids": [ada, quiet], "questions": ["First impression?"] }),
    )
    .await;
    let marketing = submit(
        &app,
        "marketing",
        json!({ "persona_ids": [quiet], "materials": [{ "name": "A", "body": "A wine cellar." }], "channels": ["email"] }),
    )
    .await;
    let individual = submit(
        &app,
        "individual",
        json!({ "persona_id": ada, "scenario": { "type": "call", "context": { "purpose": "introduce a listing" } } }),
    )
    .await;
    for id in [&focus, &marketing, &individual] {
        let status = app.wait_for_final(id, Duration::from_secs(60)).await;
        assert_eq!(status["status"], "completed", "{status}");
    }

    let all = app.get("/api/v1/simulations").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(
        ids(&all.body),
        vec![individual.clone(), marketing.clone(), focus.clone()]
    );
    assert_eq!(all.body["next_cursor"], Value::Null);
    let newest = &all.body["items"][0];
    assert_eq!(newest["type"], "individual");
    assert_eq!(newest["status"], "completed");
    assert!(newest["summary"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(newest.get("results").is_none(), "lists carry no results");
    assert_eq!(all.body["items"][2]["property_id"], aspen.as_str());

    let list = |query: String| {
        let app = &app;
        async move {
            let reply = app.get(&format!("/api/v1/simulations?{query}")).await;
            assert_eq!(reply.status, 200, "{query}: {}", reply.body);
            ids(&reply.body)
        }
    };
    assert_eq!(list("kind=marketing".into()).await, vec![marketing.clone()]);
    assert_eq!(
        list(format!("property_id={aspen}")).await,
        vec![focus.clone()]
    );
    assert_eq!(
        list(format!("persona_id={ada}")).await,
        vec![individual.clone(), focus.clone()]
    );
    assert_eq!(
        list(format!("persona_id={quiet}")).await,
        vec![marketing.clone(), focus.clone()]
    );
    assert_eq!(list("status=completed".into()).await.len(), 3);
    assert!(list("status=running".into()).await.is_empty());
    let alice = all.body["items"][0]["created_by"].as_str().unwrap();
    assert_eq!(list(format!("created_by={alice}")).await.len(), 3);
    assert!(list("since=2999-01-01T00:00:00Z".into()).await.is_empty());
    assert_eq!(list("since=2000-01-01T00:00:00Z".into()).await.len(), 3);

    // Pages of one, each continuing where the last stopped.
    let first = app.get("/api/v1/simulations?limit=1").await.body;
    assert_eq!(ids(&first), vec![individual.clone()]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = app
        .get(&format!("/api/v1/simulations?limit=1&cursor={cursor}"))
        .await
        .body;
    assert_eq!(ids(&second), vec![marketing.clone()]);

    // Bad filters are readable 4xx answers.
    for query in [
        "kind=podcast",
        "limit=0",
        "limit=201",
        "cursor=yesterday",
        "since=monday",
    ] {
        let reply = app.get(&format!("/api/v1/simulations?{query}")).await;
        assert!(
            matches!(reply.status.as_u16(), 400 | 422),
            "{query}: {} {}",
            reply.status,
            reply.body
        );
    }
    // Who took part with a private client is that client's agent's to know.
    let teammate = app
        .key_for("Acme Realty", Some("West"), "bob", Role::Agent)
        .await;
    app.request(
        Method::GET,
        &format!("/api/v1/simulations?persona_id={quiet}"),
        Some(&teammate),
        None,
    )
    .await
    .problem(404);
    // Another brokerage lists nothing of this one's.
    let rival = app
        .key_for("Rival Estates", None, "mallory", Role::BrokerageAdmin)
        .await;
    let theirs = app
        .request(Method::GET, "/api/v1/simulations", Some(&rival), None)
        .await;
    assert_eq!(theirs.body["items"], json!([]));
}

/// A focus group of ten rounds on a model that takes 250 ms a call.
fn slow_options() -> Options {
    Options {
        mock: MockConfig {
            latency_ms: (250, 250),
            ..MockConfig::default()
        },
        ..Options::default()
    }
}

fn ten_rounds(property_id: &str, personas: &[String]) -> Value {
    let questions: Vec<String> = (1..=10).map(|i| format!("Question {i}?")).collect();
    json!({ "property_id": property_id, "persona_ids": personas, "questions": questions,
            "modifications_to_test": [] })
}

async fn a_running_simulation_stops_at_its_next_round_and_keeps_its_answers(shape: Shape) {
    let app = TestApp::spawn_with(shape, slow_options()).await;
    let mut personas = Vec::new();
    for name in ["Ada", "Ben", "Cy"] {
        let body = persona(name, "finance", &["wine cellar"], &[], 30e6);
        personas.push(
            app.create_persona(&body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let property = app.create_property(&listing()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The other callers' keys are made before the run starts: the run lasts about 2.5 s, and on a
    // loaded machine making keys inside that window let it finish before the cancel arrived.
    let colleague = app
        .key_for("Acme Realty", Some("West"), "bob", Role::Agent)
        .await;
    let rival = app
        .key_for("Rival Estates", None, "mallory", Role::BrokerageAdmin)
        .await;
    let id = submit(&app, "focus-group", ten_rounds(&property, &personas)).await;

    // Once the first round is in, ask it to stop.
    let started = Instant::now();
    loop {
        let status = app.get(&format!("/api/v1/simulations/{id}/status")).await;
        if status.body["progress"]["done"].as_i64().unwrap_or(0) >= 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            status.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another agent of the brokerage may not stop it; another brokerage does not see it.
    let cancel = format!("/api/v1/simulations/{id}/cancel");
    app.request(Method::POST, &cancel, Some(&colleague), None)
        .await
        .problem(403);
    app.request(Method::POST, &cancel, Some(&rival), None)
        .await
        .problem(404);

    let stopping = app
        .request(Method::POST, &cancel, Some(&app.key), None)
        .await;
    assert_eq!(stopping.status, 202, "{}", stopping.body);
    assert_eq!(stopping.body["status"], "running");
    assert!(stopping.body["cancel_requested_at"].is_string());

    let status = app.wait_for_final(&id, Duration::from_secs(30)).await;
    assert_eq!(status["status"], "cancelled", "{status}");
    let done = status["progress"]["done"].as_i64().unwrap();
    assert!((3..30).contains(&done), "stopped after {done} of 30 steps");
    let results = app.get(&format!("/api/v1/simulations/{id}/results")).await;
    let r = &results.body["results"];
    assert_eq!(
        r["raw_responses"].as_array().unwrap().len() as i64,
        done,
        "every answer given before it stopped is kept"
    );
    let summary = r["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("Cancelled on request after"),
        "{summary}"
    );
    assert_eq!(status["summary"].as_str(), Some(summary));

    let events = app.events().await;
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e.subject_id.to_string() == id)
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "simulation.cancelled")
            .count(),
        1,
        "{kinds:?}"
    );
    assert!(!kinds.contains(&"simulation.completed"), "{kinds:?}");

    // Finished simulations cannot be cancelled.
    let again = app
        .request(Method::POST, &cancel, Some(&app.key), None)
        .await;
    assert!(again.problem(409).ends_with("/conflict"), "{}", again.body);
    let quick = submit(
        &app,
        "individual",
        json!({ "persona_id": personas[0], "scenario": { "type": "call", "context": { "purpose": "hello" } } }),
    )
    .await;
    app.wait_for_final(&quick, Duration::from_secs(30)).await;
    app.request(
        Method::POST,
        &format!("/api/v1/simulations/{quick}/cancel"),
        Some(&app.key),
        None,
    )
    .await
    .problem(409);
}

/// Only the distributed shape can hold a simulation in the queue with no worker to take it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_simulation_is_cancelled_before_any_worker_runs_it() {
    let mut app = TestApp::spawn_api_only(Shape::Distributed).await;
    let ada = app
        .create_persona(&persona("Ada", "finance", &["wine cellar"], &[], 30e6))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let scenario = json!({ "persona_id": ada, "scenario": { "type": "call", "context": { "purpose": "hello" } } });
    let queued = submit(&app, "individual", scenario.clone()).await;
    let cancelled = app
        .request(
            Method::POST,
            &format!("/api/v1/simulations/{queued}/cancel"),
            Some(&app.key),
            None,
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    let listed = app.get("/api/v1/simulations?status=cancelled").await;
    assert_eq!(ids(&listed.body), vec![queued.clone()]);

    // A worker that comes later runs the next job, and leaves the cancelled one alone.
    let later = submit(&app, "individual", scenario).await;
    app.start_worker();
    let status = app.wait_for_final(&later, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "completed", "{status}");
    let first = app
        .get(&format!("/api/v1/simulations/{queued}/status"))
        .await
        .body;
    assert_eq!(first["status"], "cancelled");
    assert_eq!(first["attempts"], 0, "{first}");
    let events = app.events().await;
    let of_first: Vec<&str> = events
        .iter()
        .filter(|e| e.subject_id.to_string() == queued)
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(of_first, ["simulation.cancelled"]);
}
