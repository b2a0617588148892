//! Simulations run again on a schedule: checked when made, fired once per slot whichever
//! scheduler replica fires it, submitted as their author (and recorded with why when they
//! cannot be), announced as `simulation.scheduled`, and visible to their author and admins only.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::domain::Role;

use crate::helpers::{Reply, Shape, TestApp, both_shapes, seed};

both_shapes!(a_schedule_fires_each_slot_once_as_its_author);

fn kind(reply: &Reply, status: u16) -> String {
    let kind = reply.problem(status);
    kind.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Makes a schedule look two days old, so its latest daily slot falls after it was made.
async fn backdate(app: &TestApp, shape: Shape, id: &str) {
    let when = chrono::Utc::now() - chrono::Duration::days(2);
    let id: uuid::Uuid = id.parse().unwrap();
    let sql = "UPDATE schedules SET created_at = $1 WHERE id = $2";
    match shape {
        Shape::Distributed => {
            let pool = app.postgres().await;
            sqlx::query(sql)
                .bind(when)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
        Shape::Embedded => {
            let pool = sqlx::SqlitePool::connect(&app.vars["TROUPE_DATABASE_URL"])
                .await
                .unwrap();
            sqlx::query(sql)
                .bind(when)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
    }
}

/// The schedule once `done` holds for it, or a panic after 40 s.
async fn until(app: &TestApp, key: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let reply = app
            .request(
                Method::GET,
                &format!("/api/v1/schedules/{id}"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        if done(&reply.body) {
            return reply.body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "{}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_schedule_fires_each_slot_once_as_its_author(shape: Shape) {
    let mut app = TestApp::spawn(shape).await;
    let property = seed(&app).await;
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let request = json!({ "property_id": property, "persona_segments": ["finance"],
                          "questions": ["First impression?"], "simulation_params": { "num_agents": 2 } });
    let body = json!({ "name": "Monday panel", "kind": "focus_group", "request": request,
                       "cron": "0 0 9 * * *" });

    // Mistakes are told when the schedule is made; nothing is stored.
    let mut bad_cron = body.clone();
    bad_cron["cron"] = json!("every monday");
    assert_eq!(
        kind(&app.post("/api/v1/schedules", &bad_cron).await, 422),
        "validation-failed"
    );
    let mut bad_kind = body.clone();
    bad_kind["kind"] = json!("focus-group");
    assert_eq!(
        kind(&app.post("/api/v1/schedules", &bad_kind).await, 400),
        "invalid-body"
    );
    let mut typo = body.clone();
    typo["request"]["questons"] = json!(["?"]);
    let typo = app.post("/api/v1/schedules", &typo).await;
    assert_eq!(kind(&typo, 400), "invalid-body");
    let mut unknown = body.clone();
    unknown["request"]["property_id"] = json!(uuid::Uuid::now_v7());
    assert_eq!(
        kind(&app.post("/api/v1/schedules", &unknown).await, 404),
        "not-found"
    );
    let notes = json!({ "name": "Call", "kind": "individual", "cron": "0 0 9 * * *",
        "request": { "persona_id": uuid::Uuid::now_v7(), "scenario": { "type": "call", "context": {} },
                     "enrichment_data": { "internal_notes": "Secret" } } });
    assert_eq!(
        kind(&app.post("/api/v1/schedules", &notes).await, 422),
        "validation-failed"
    );
    let listed = app.get("/api/v1/schedules").await;
    assert_eq!(listed.body["items"], json!([]), "{}", listed.body);

    let created = app.post("/api/v1/schedules", &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(created.body["next_run_at"].is_string(), "{}", created.body);
    // Another agent's schedule is not theirs to see; an admin's is.
    let other = app
        .key_for("Acme Realty", Some("West"), "bob", Role::Agent)
        .await;
    let hidden = app
        .request(
            Method::GET,
            &format!("/api/v1/schedules/{id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(kind(&hidden, 404), "not-found");
    let rival = app
        .key_for("Rival Realty", None, "mallory", Role::BrokerageAdmin)
        .await;
    let foreign = app
        .request(
            Method::DELETE,
            &format!("/api/v1/schedules/{id}"),
            Some(&rival),
            None,
        )
        .await;
    assert_eq!(kind(&foreign, 404), "not-found");

    // Bob's own schedule, and Bob leaves: its slot is recorded with why, not run.
    let bobs = app
        .request(Method::POST, "/api/v1/schedules", Some(&other), Some(&body))
        .await;
    assert_eq!(bobs.status, 201, "{}", bobs.body);
    let bobs_id = bobs.body["id"].as_str().unwrap().to_owned();
    let bob = app
        .request(Method::GET, "/api/v1/users", Some(&admin), None)
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "bob")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let left = app
        .request(
            Method::POST,
            &format!("/api/v1/users/{bob}/deactivate"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(left.status, 200, "{}", left.body);

    // Two scheduler replicas beside whatever the app runs: each slot still fires once.
    backdate(&app, shape, &id).await;
    backdate(&app, shape, &bobs_id).await;
    app.start_process("scheduler");
    app.start_process("scheduler");
    let fired = until(&app, &app.key.clone(), &id, |s| {
        s["runs"].as_array().is_some_and(|r| !r.is_empty())
    })
    .await;
    let run = &fired["runs"][0];
    let simulation = run["simulation_id"]
        .as_str()
        .expect("the slot submitted a simulation")
        .to_owned();
    let status = app
        .wait_for_final(&simulation, Duration::from_secs(60))
        .await;
    assert_eq!(status["status"], "completed", "{status}");
    let failed = until(&app, &admin, &bobs_id, |s| {
        s["runs"].as_array().is_some_and(|r| !r.is_empty())
    })
    .await;
    assert!(failed["runs"][0]["simulation_id"].is_null(), "{failed}");
    assert!(
        failed["runs"][0]["error"]
            .as_str()
            .unwrap()
            .contains("no longer active"),
        "{failed}"
    );

    // A tick later, still one run for the slot, one simulation and one announcement.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let again = app.get(&format!("/api/v1/schedules/{id}")).await.body;
    assert_eq!(again["runs"].as_array().unwrap().len(), 1, "{again}");
    let runs = app
        .get(&format!("/api/v1/simulations?property_id={property}"))
        .await;
    assert_eq!(
        runs.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        runs.body
    );
    assert_eq!(
        runs.body["items"][0]["created_by"],
        created.body["created_by"]
    );
    let scheduled: Vec<Value> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == "simulation.scheduled")
        .map(|e| e.payload)
        .collect();
    assert_eq!(scheduled.len(), 1, "{scheduled:?}");
    assert_eq!(scheduled[0]["schedule_id"], id.as_str());
    assert_eq!(scheduled[0]["simulation_id"], simulation.as_str());

    // Paused, it says when it would not run; deleted, it is gone and its simulation stays.
    let paused = app
        .request(
            Method::PATCH,
            &format!("/api/v1/schedules/{id}"),
            Some(&app.key),
            Some(&json!({ "enabled": false })),
        )
        .await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert!(paused.body.get("next_run_at").is_none(), "{}", paused.body);
    let bad_patch = app
        .request(
            Method::PATCH,
            &format!("/api/v1/schedules/{id}"),
            Some(&app.key),
            Some(&json!({ "cron": "soon" })),
        )
        .await;
    assert_eq!(kind(&bad_patch, 422), "validation-failed");
    let all = app
        .request(Method::GET, "/api/v1/schedules", Some(&admin), None)
        .await;
    assert_eq!(
        all.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        all.body
    );
    let gone = app
        .request(
            Method::DELETE,
            &format!("/api/v1/schedules/{id}"),
            Some(&app.key),
            None,
        )
        .await;
    assert_eq!(gone.status, 204);
    assert_eq!(
        kind(&app.get(&format!("/api/v1/schedules/{id}")).await, 404),
        "not-found"
    );
    assert_eq!(
        app.get(&format!("/api/v1/simulations/{simulation}/status"))
            .await
            .status,
        200
    );
}
