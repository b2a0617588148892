//! Erasure: a deleted persona, once its restore window closes, leaves nothing of it in any table
//! — its answers are cut out of past simulations (whose aggregates still read), its name and id
//! out of events and webhook deliveries, the response cache is emptied — while the audit log and
//! the `persona.deleted` event (for systems that hold the client too) keep only its id.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use troupe_shared::domain::{RESTORE_WINDOW, Role};

use crate::{
    helpers::{Options, Shape, TestApp, both_shapes, persona, seed},
    receiver::Receiver,
};

both_shapes!(a_deleted_persona_leaves_nothing_behind);

/// What the scheduler's hourly cleanup erases at `now`.
pub(crate) async fn erase_due(app: &TestApp, now: chrono::DateTime<chrono::Utc>) -> u64 {
    let config = troupe_shared::Config::from_vars(app.vars.clone()).unwrap();
    let (store, queues) = troupe::connect(&config).await.unwrap();
    troupe_scheduler::erase_due_clients(&store, &queues, &config.response_cache_prefix(), now)
        .await
        .unwrap()
}

const NAME: &str = "Zebulon Quarry";

/// Tables in which `needle` appears as text (or, given `id`, that id as SQLite stores it).
pub(crate) async fn tables_holding(
    app: &TestApp,
    shape: Shape,
    needle: &str,
    id: Option<uuid::Uuid>,
) -> Vec<String> {
    let mut found = Vec::new();
    match shape {
        Shape::Distributed => {
            let pool = app.postgres().await;
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            for table in tables {
                let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM \"{table}\" AS t WHERE t::text LIKE $1"
                )))
                .bind(format!("%{needle}%"))
                .fetch_one(&pool)
                .await
                .unwrap();
                if hits > 0 {
                    found.push(table);
                }
            }
        }
        Shape::Embedded => {
            let pool = sqlx::SqlitePool::connect(&app.vars["TROUPE_DATABASE_URL"])
                .await
                .unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            for table in tables {
                let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}')"
                )))
                .fetch_all(&pool)
                .await
                .unwrap();
                let test = columns
                    .iter()
                    .map(|c| format!("CAST(\"{c}\" AS TEXT) LIKE ?1 OR \"{c}\" = ?2"))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM \"{table}\" WHERE {test}"
                )))
                .bind(format!("%{needle}%"))
                .bind(id.map(|id| id.as_bytes().to_vec()))
                .fetch_one(&pool)
                .await
                .unwrap();
                if hits > 0 {
                    found.push(table);
                }
            }
        }
    }
    found
}

async fn a_deleted_persona_leaves_nothing_behind(shape: Shape) {
    let app = TestApp::spawn_with(
        shape,
        Options {
            vars: vec![("TROUPE_WEBHOOK_ALLOW_PRIVATE", "true".to_owned())],
            ..Options::default()
        },
    )
    .await;
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    // Every event, progress (with answers) included, is copied into webhook deliveries.
    let receiver = Receiver::start().await;
    let subscribed = app
        .request(
            Method::POST,
            "/api/v1/webhooks",
            Some(&admin),
            Some(&json!({ "url": receiver.url(), "event_types": ["simulation.progress", "simulation.completed", "matching.completed"] })),
        )
        .await;
    assert_eq!(subscribed.status, 201, "{}", subscribed.body);

    let property_id = seed(&app).await;
    let mut client = persona(NAME, "finance", &["wine cellar", "heated pool"], &[], 3e7);
    client["biography"] = json!(format!("{NAME} collects rare Burgundy."));
    let zebulon = app.create_persona(&client).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id: uuid::Uuid = zebulon.parse().unwrap();
    // A schedule that would call them every Monday keeps no trace of them either.
    let schedule = app
        .post(
            "/api/v1/schedules",
            &json!({ "name": "Weekly call", "kind": "individual", "cron": "0 0 9 * * Mon",
                     "request": { "persona_id": zebulon, "scenario": { "type": "call", "context": { "purpose": "check in" } } } }),
        )
        .await;
    assert_eq!(schedule.status, 201, "{}", schedule.body);
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({ "property_id": property_id, "persona_segments": ["finance"], "questions": ["First impression?"], "modifications_to_test": [] }),
        )
        .await;
    let simulation = accepted.body["id"].as_str().unwrap().to_owned();
    app.wait_for_final(&simulation, Duration::from_secs(60))
        .await;
    let matches = crate::matching::matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": property_id, "min_score": 0 }),
    )
    .await;
    assert!(matches.to_string().contains(NAME));
    receiver
        .wait_for(Duration::from_secs(30), |r| {
            r.iter().any(|m| m.json()["type"] == "matching.completed")
        })
        .await;
    // Another client's call names them; what enrichment learned of it goes with them.
    let spouse = app
        .create_persona(&persona("Odile Marsh", "finance", &[], &[], 2e7))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let call = json!({ "sources": [{ "kind": "transcript", "occurred_on": "2026-02-02",
        "content": format!("Client: My husband {NAME} loves a wine cellar.") }] });
    crate::enrichment::enrich(&app, &spouse, &call).await;
    let facts = app.get(&format!("/api/v1/personas/{spouse}/facts")).await;
    assert!(facts.body.to_string().contains(NAME), "{}", facts.body);
    // A run about them alone, with notes for it.
    let individual = app
        .post(
            "/api/v1/simulations/individual",
            &json!({ "persona_id": zebulon, "scenario": { "type": "call", "context": { "purpose": "hello" } },
                     "enrichment_data": { "internal_notes": format!("{NAME} is selling the yacht.") } }),
        )
        .await;
    assert_eq!(individual.status, 202, "{}", individual.body);
    let individual = individual.body["id"].as_str().unwrap().to_owned();
    app.wait_for_final(&individual, Duration::from_secs(60))
        .await;
    let results_path = format!("/api/v1/simulations/{simulation}/results");
    let before = app.get(&results_path).await.body;
    assert!(before.to_string().contains(&zebulon));
    // Sealed even before erasure: the name is in no table nor file, while the id (the scan's
    // positive control) is in many.
    assert_eq!(
        tables_holding(&app, shape, NAME, None).await,
        Vec::<String>::new()
    );
    assert!(tables_holding(&app, shape, &zebulon, Some(id)).await.len() > 3);
    if shape == Shape::Embedded {
        assert_eq!(
            name_in_files(&app),
            0,
            "the raw files hold no plaintext name"
        );
    }
    // Deleted by an admin: hidden at once, the runs they took part in still read; erased by the
    // scheduler's cleanup once the restore window has closed.
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/personas/{zebulon}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let hidden = app
        .get(&format!("/api/v1/simulations/{individual}/results"))
        .await;
    assert_eq!(hidden.status, 200, "{}", hidden.body);
    assert!(!hidden.body.to_string().contains(NAME), "{}", hidden.body);
    assert_eq!(
        erase_due(&app, chrono::Utc::now()).await,
        0,
        "not before the window closes"
    );
    let window_closed = chrono::Utc::now() + RESTORE_WINDOW + chrono::Duration::hours(1);
    assert_eq!(erase_due(&app, window_closed).await, 1);

    // The aggregates still read; the persona's answers are gone from them.
    let after = app.get(&results_path).await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert_eq!(after.body["status"], "completed");
    assert!(after.body["results"]["summary"].is_string());
    let answers = after.body["results"]["raw_responses"].as_array().unwrap();
    assert!(!answers.is_empty(), "the other personas' answers stay");
    assert!(answers.len() < before["results"]["raw_responses"].as_array().unwrap().len());
    assert!(!after.body.to_string().contains(&zebulon));
    // The run about them alone still reads, its client shown as no one (the nil id).
    let alone = app
        .get(&format!("/api/v1/simulations/{individual}/results"))
        .await;
    assert_eq!(alone.status, 200, "{}", alone.body);
    assert_eq!(
        alone.body["input_params"]["persona_id"],
        uuid::Uuid::nil().to_string()
    );
    assert!(alone.body["input_params"]["enrichment_data"].is_null());
    assert!(!alone.body.to_string().contains(NAME), "{}", alone.body);
    let listed = app.get("/api/v1/simulations?kind=individual").await;
    assert_eq!(listed.status, 200, "{}", listed.body);

    // Nothing anywhere: not the name, not the id (the audit log keeps the id alone).
    assert_eq!(
        tables_holding(&app, shape, NAME, None).await,
        Vec::<String>::new()
    );
    let mut holding_id = tables_holding(&app, shape, &zebulon, Some(id)).await;
    holding_id.sort();
    assert_eq!(
        holding_id,
        ["audit_log", "events"],
        "only the audit trail and the `persona.deleted` event name the id"
    );
    // What the spouse's call taught, read back opened, names them no more.
    let facts = app.get(&format!("/api/v1/personas/{spouse}/facts")).await;
    assert_eq!(facts.status, 200, "{}", facts.body);
    assert!(!facts.body.to_string().contains(NAME), "{}", facts.body);
    let events = app.events().await;
    let announced: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e.payload.to_string().contains(&zebulon))
        .map(|e| &e.payload)
        .collect();
    assert_eq!(
        announced,
        [&json!({ "persona_id": zebulon, "external_ids": {} })],
        "the one event left naming the client is its deletion, by id alone"
    );
    if shape == Shape::Embedded {
        // Not in the file's free pages (secure_delete), nor in the WAL (emptied after erasure).
        assert_eq!(
            name_in_files(&app),
            0,
            "the SQLite files still hold the name"
        );
    }
    if shape == Shape::Distributed {
        let redis = redis::Client::open("redis://127.0.0.1:6379").unwrap();
        let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
        let prefix = &app.vars["TROUPE_QUEUE_PREFIX"];
        let cached: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:llm-cache:*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(cached.is_empty(), "{cached:?}");
    }
}

/// How often the deleted persona's name appears in the raw bytes of the SQLite file and its WAL.
fn name_in_files(app: &TestApp) -> usize {
    let path = app.vars["TROUPE_DATABASE_URL"].trim_start_matches("sqlite://");
    let main = std::fs::read(path).expect("the database file");
    let wal = std::fs::read(format!("{path}-wal")).unwrap_or_default();
    [main, wal]
        .iter()
        .map(|bytes| {
            bytes
                .windows(NAME.len())
                .filter(|w| *w == NAME.as_bytes())
                .count()
        })
        .sum()
}
