//! The audit log: persona reads and changes are recorded with who and which key, admins read
//! them, the tables refuse changes, and `troupe audit verify` names an entry changed behind the
//! database's back.

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::domain::Role;

use crate::helpers::{Shape, TestApp, both_shapes, persona};

both_shapes!(
    persona_access_is_audited_in_a_chain_that_detects_tampering,
    a_change_whose_entry_cannot_be_written_is_not_made,
    every_admin_change_is_audited_once,
    reading_a_runs_matches_is_audited_with_the_clients_shown
);

fn actions(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

async fn verify(app: &TestApp) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_troupe"))
        .args(["audit", "verify"])
        .env_clear()
        .envs(&app.vars)
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// Runs `statements` on the app's database directly, as someone with database access would.
pub(crate) async fn tamper(
    app: &TestApp,
    shape: Shape,
    statements: &[&str],
) -> Result<(), sqlx::Error> {
    match shape {
        Shape::Distributed => {
            let pool = app.postgres().await;
            for statement in statements {
                sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                    .execute(&pool)
                    .await?;
            }
        }
        Shape::Embedded => {
            let pool = sqlx::SqlitePool::connect(&app.vars["TROUPE_DATABASE_URL"]).await?;
            for statement in statements {
                sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                    .execute(&pool)
                    .await?;
            }
        }
    }
    Ok(())
}

async fn persona_access_is_audited_in_a_chain_that_detects_tampering(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    let created = app
        .create_persona(&persona("Ada", "finance", &["wine cellar"], &[], 3e7))
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/personas/{id}");
    assert_eq!(app.get(&path).await.status, 200);
    let mut changed = created.clone();
    changed["biography"] = json!("Moved to Aspen.");
    let replaced = app
        .request(Method::PUT, &path, Some(&app.key), Some(&changed))
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);

    let log = app
        .request(Method::GET, "/api/v1/audit", Some(&admin), None)
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    assert_eq!(
        actions(&log.body),
        ["persona.updated", "persona.read", "persona.created"]
    );
    // Concurrent reads each append to the one chain, in turn: none fails, none is lost.
    let reads = futures::future::join_all((0..32).map(|_| app.get(&path))).await;
    assert!(reads.iter().all(|r| r.status == 200));
    let burst = app
        .request(
            Method::GET,
            "/api/v1/audit?action=persona.read&limit=100",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(burst.body["items"].as_array().unwrap().len(), 33);
    let newest = &log.body["items"][0];
    assert_eq!(newest["subject_id"], id);
    assert_eq!(newest["detail"], json!({ "from_version": 1, "version": 2 }));
    assert_eq!(newest["prev_hash"], log.body["items"][1]["hash"]);
    let alice = newest["actor_id"].as_str().unwrap();
    let filtered = app
        .request(
            Method::GET,
            &format!("/api/v1/audit?actor_id={alice}&action=persona.read&limit=1"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(actions(&filtered.body), ["persona.read"]);
    // Agents do not read the log; another brokerage's admin sees none of it.
    assert_eq!(
        app.request(Method::GET, "/api/v1/audit", Some(&app.key), None)
            .await
            .problem(403),
        "https://troupe.dev/problems/forbidden"
    );
    let outsider = app
        .key_for("Rival Estates", None, "boss", Role::BrokerageAdmin)
        .await;
    let theirs = app
        .request(Method::GET, "/api/v1/audit", Some(&outsider), None)
        .await;
    assert_eq!(theirs.body["items"], json!([]));

    // A deletion is recorded, without the persona's content: only when the erasure is due.
    let deleted = app.request(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(deleted.status, 204);
    let log = app
        .request(Method::GET, "/api/v1/audit", Some(&admin), None)
        .await;
    assert_eq!(log.body["items"][0]["action"], "persona.deleted");
    let detail = log.body["items"][0]["detail"].as_object().unwrap();
    assert_eq!(detail.keys().collect::<Vec<_>>(), ["erase_after"]);
    assert!(!log.body.to_string().contains("Aspen"));

    let (intact, printed) = verify(&app).await;
    assert!(intact, "{printed}");
    assert!(printed.contains("36 entries checked"), "{printed}");

    // The tables refuse changes...
    let refused = tamper(
        &app,
        shape,
        &["UPDATE audit_log SET action = 'persona.read' WHERE seq = 2"],
    )
    .await;
    assert!(refused.is_err(), "an audit entry was changed in place");
    // ...and a change made past the trigger is found.
    let bypass = match shape {
        Shape::Distributed => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        Shape::Embedded => "DROP TRIGGER audit_log_no_update",
    };
    tamper(
        &app,
        shape,
        &[
            bypass,
            "UPDATE audit_log SET detail = '{\"version\": 9}' WHERE seq = 2",
        ],
    )
    .await
    .unwrap();
    let (intact, printed) = verify(&app).await;
    assert!(!intact, "{printed}");
    assert!(printed.contains("(seq 2)"), "{printed}");
}

both_shapes!(reads_reach_the_chain_without_waiting_on_each_other);

/// A read is staged without the chain's lock and reaches the chain on its own within a second
/// or so, in the order of the reads and changes around it.
async fn reads_reach_the_chain_without_waiting_on_each_other(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let created = app
        .create_persona(&persona("Ada", "finance", &["wine cellar"], &[], 3e7))
        .await;
    let path = format!("/api/v1/personas/{}", created["id"].as_str().unwrap());
    let reads = futures::future::join_all((0..20).map(|_| app.get(&path))).await;
    assert!(reads.iter().all(|r| r.status == 200));

    let count = |sql: &'static str| {
        let app = &app;
        async move {
            match shape {
                Shape::Distributed => sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&app.postgres().await)
                    .await
                    .unwrap(),
                Shape::Embedded => {
                    let pool = sqlx::SqlitePool::connect(&app.vars["TROUPE_DATABASE_URL"])
                        .await
                        .unwrap();
                    sqlx::query_scalar::<_, i64>(sql)
                        .fetch_one(&pool)
                        .await
                        .unwrap()
                }
            }
        }
    };
    let started = std::time::Instant::now();
    while count("SELECT COUNT(*) FROM audit_reads").await > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "staged reads were never chained"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_log WHERE action = 'persona.read'").await,
        20
    );
    let (intact, printed) = verify(&app).await;
    assert!(intact, "{printed}");
    assert!(printed.contains("21 entries checked"), "{printed}");
}

both_shapes!(an_export_holds_everything_about_the_client);

/// The export gathers the persona, their answers in past simulations (and nobody else's), their
/// matches and the feedback on them, and the access trail — which records the export too.
async fn an_export_holds_everything_about_the_client(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let property_id = crate::helpers::seed(&app).await;
    let listed = app.get("/api/v1/personas?q=ada").await;
    let ada = listed.body["items"][0]["id"].as_str().unwrap().to_owned();
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({ "property_id": property_id, "persona_segments": ["finance"], "questions": ["First impression?"], "modifications_to_test": [] }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let simulation = accepted.body["id"].as_str().unwrap().to_owned();
    app.wait_for_final(&simulation, std::time::Duration::from_secs(60))
        .await;
    let matches = crate::matching::matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": property_id, "min_score": 0 }),
    )
    .await;
    let recommendation = matches["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["persona_id"] == ada.as_str())
        .expect("Ada is matched")
        .clone();
    let feedback = app
        .post(
            &format!(
                "/api/v1/matching/recommendations/{}/feedback",
                recommendation["id"].as_str().unwrap()
            ),
            &json!({ "outcome": "interested", "reason": "loves the cellar" }),
        )
        .await;
    assert!(feedback.status.is_success(), "{}", feedback.body);

    let call = json!({ "sources": [{ "kind": "transcript", "occurred_on": "2026-04-01",
        "content": "Client: Our budget is now up to $45M. Her husband Tomas loves a boat dock." }] });
    crate::enrichment::enrich(&app, &ada, &call).await;

    let export = app.get(&format!("/api/v1/personas/{ada}/export")).await;
    assert_eq!(export.status, 200, "{}", export.body);
    let body = &export.body;
    assert_eq!(body["persona"]["id"], ada.as_str());
    let runs = body["simulations"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{body}");
    assert_eq!(runs[0]["simulation_id"], simulation.as_str());
    let answers = runs[0]["answers"].as_array().unwrap();
    assert!(!answers.is_empty());
    assert!(
        answers.iter().all(|a| a["persona_id"] == ada.as_str()),
        "only Ada's answers"
    );
    assert_eq!(body["recommendations"][0]["id"], recommendation["id"]);
    assert_eq!(body["feedback"][0]["reason"], "loves the cellar");
    // Versions (private fields too), the sources with their text, the facts and the graph.
    let versions = body["versions"].as_array().unwrap();
    assert_eq!(
        versions.len() as i64,
        body["persona"]["version"].as_i64().unwrap()
    );
    assert_eq!(versions.last().unwrap()["change"], "enriched");
    assert!(
        body["sources"][0]["content"]
            .as_str()
            .unwrap()
            .contains("Tomas loves a boat dock")
    );
    assert!(
        body["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["quote"].as_str().unwrap().contains("$45M"))
    );
    assert!(
        body["graph"]["nodes"].to_string().contains("person:tomas"),
        "{}",
        body["graph"]
    );
    let trail: Vec<&str> = body["access_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(trail.first(), Some(&"persona.created"));
    assert_eq!(trail.last(), Some(&"persona.exported"));

    // Someone who may not see the persona cannot export it.
    let outsider = app
        .key_for("Rival Estates", None, "boss", Role::BrokerageAdmin)
        .await;
    let refused = app
        .request(
            Method::GET,
            &format!("/api/v1/personas/{ada}/export"),
            Some(&outsider),
            None,
        )
        .await;
    assert_eq!(
        refused.problem(404),
        "https://troupe.dev/problems/not-found"
    );
}

/// The entry is written in the change's transaction: when the log refuses it, the change rolls
/// back with it — it neither happens unrecorded nor is reported as failed while done.
async fn a_change_whose_entry_cannot_be_written_is_not_made(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    let kept = app
        .create_persona(&persona("Kept Client", "finance", &[], &[], 3e7))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refuse: &[&str] = match shape {
        Shape::Distributed => &[
            "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
        Shape::Embedded => &[
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END",
        ],
    };
    tamper(&app, shape, refuse).await.unwrap();

    let created = app
        .post(
            "/api/v1/personas",
            &persona("Unrecorded", "finance", &[], &[], 3e7),
        )
        .await;
    created.problem(500);
    let edited = app
        .request(
            Method::PUT,
            &format!("/api/v1/personas/{kept}"),
            Some(&app.key),
            Some(&persona("Renamed", "finance", &[], &[], 3e7)),
        )
        .await;
    edited.problem(500);
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/personas/{kept}"),
            Some(&admin),
            None,
        )
        .await;
    deleted.problem(500);

    tamper(
        &app,
        shape,
        &["DROP TRIGGER refuse_audit ON audit_log"].map(|s| match shape {
            Shape::Distributed => s,
            Shape::Embedded => "DROP TRIGGER refuse_audit",
        }),
    )
    .await
    .unwrap();

    // Reads share their staging commits; when it fails, each read is refused, none is served
    // unrecorded.
    let refuse_reads: &[&str] = match shape {
        Shape::Distributed => &[
            "CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_reads FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
        Shape::Embedded => &[
            "CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_reads BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END",
        ],
    };
    tamper(&app, shape, refuse_reads).await.unwrap();
    let path = format!("/api/v1/personas/{kept}");
    let reads = futures::future::join_all((0..16).map(|_| app.get(&path))).await;
    for read in &reads {
        read.problem(500);
    }
    tamper(
        &app,
        shape,
        &["DROP TRIGGER refuse_reads ON audit_reads"].map(|s| match shape {
            Shape::Distributed => s,
            Shape::Embedded => "DROP TRIGGER refuse_reads",
        }),
    )
    .await
    .unwrap();
    assert_eq!(app.get(&path).await.status, 200);
    let listed = app.get("/api/v1/personas").await;
    let names: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Kept Client"], "nothing changed unrecorded");
    let current = app.get(&format!("/api/v1/personas/{kept}")).await;
    assert_eq!(current.body["version"], 1);
}

async fn every_admin_change_is_audited_once(shape: Shape) {
    let options = crate::helpers::Options {
        workers: 0,
        vars: vec![("TROUPE_WEBHOOK_ALLOW_PRIVATE", "true".to_owned())],
        ..crate::helpers::Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    let call = |method: Method, path: String, body: Option<Value>| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let reply = app
                .request(method, &path, Some(&admin), body.as_ref())
                .await;
            assert!(reply.status.is_success(), "{path}: {}", reply.body);
            reply.body
        }
    };
    let team = call(
        Method::POST,
        "/api/v1/teams".into(),
        Some(json!({ "name": "North" })),
    )
    .await;
    let user = call(
        Method::POST,
        "/api/v1/users".into(),
        Some(json!({ "name": "nora", "role": "agent", "team_id": team["id"] })),
    )
    .await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let key = call(Method::POST, format!("/api/v1/users/{user_id}/keys"), None).await;
    let rotated = call(
        Method::POST,
        format!("/api/v1/keys/{}/rotate", key["id"].as_str().unwrap()),
        None,
    )
    .await;
    let revoke = format!("/api/v1/keys/{}", rotated["id"].as_str().unwrap());
    app.request(Method::DELETE, &revoke, Some(&admin), None)
        .await;
    call(
        Method::POST,
        format!("/api/v1/users/{user_id}/deactivate"),
        None,
    )
    .await;
    let webhook = call(
        Method::POST,
        "/api/v1/webhooks".into(),
        Some(json!({ "url": "http://127.0.0.1:9/hook" })),
    )
    .await;
    let hook = format!("/api/v1/webhooks/{}", webhook["id"].as_str().unwrap());
    call(
        Method::PATCH,
        hook.clone(),
        Some(json!({ "description": "CRM" })),
    )
    .await;
    call(
        Method::POST,
        format!("{hook}/rotate-secret"),
        Some(json!({ "overlap_hours": 1 })),
    )
    .await;
    app.request(Method::DELETE, &hook, Some(&admin), None).await;
    call(
        Method::PUT,
        "/api/v1/settings".into(),
        Some(json!({ "deletion": "owner" })),
    )
    .await;
    // A refused change (another brokerage's id) records nothing.
    let missing = format!("/api/v1/users/{}/deactivate", uuid::Uuid::now_v7());
    app.request(Method::POST, &missing, Some(&admin), None)
        .await
        .problem(404);

    let log = app
        .request(Method::GET, "/api/v1/audit?limit=500", Some(&admin), None)
        .await;
    let actions: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    let count = |action: &str| actions.iter().filter(|a| **a == action).count();
    for (action, times) in [
        ("team.created", 1),
        ("user.created", 1),
        ("key.issued", 2),
        ("key.revoked", 2),
        ("user.deactivated", 1),
        ("webhook.created", 1),
        ("webhook.updated", 1),
        ("webhook.secret_rotated", 1),
        ("webhook.deleted", 1),
        ("settings.updated", 1),
    ] {
        assert_eq!(count(action), times, "{action} in {actions:?}");
    }
    let (intact, _) = verify(&app).await;
    assert!(intact, "the chain still verifies");

    // A list of the client book names every id it returned.
    let ada = app
        .create_persona(&persona("Ada", "finance", &[], &[], 3e7))
        .await["id"]
        .clone();
    let listed = app.get("/api/v1/personas").await;
    assert_eq!(listed.status, 200);
    let log = app
        .request(
            Method::GET,
            "/api/v1/audit?action=persona.listed",
            Some(&admin),
            None,
        )
        .await;
    let entries = log.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", log.body);
    assert_eq!(entries[0]["detail"]["persona_ids"], json!([ada]));

    // So do lists of simulations and of outcomes; an outcome read is recorded too.
    let property = app.create_property(&crate::helpers::listing()).await["id"].clone();
    let submitted = app
        .post(
            "/api/v1/simulations/individual",
            &json!({ "persona_id": ada, "scenario": { "type": "call", "context": { "purpose": "hello" } } }),
        )
        .await;
    assert_eq!(submitted.status, 202, "{}", submitted.body);
    let today = chrono::Utc::now().date_naive().to_string();
    let showing = app
        .post(
            "/api/v1/outcomes",
            &json!({ "type": "showing", "occurred_on": today, "property_id": property,
                     "persona_id": ada, "reaction": 4, "comment": "Loved the light." }),
        )
        .await;
    assert_eq!(showing.status, 201, "{}", showing.body);
    let outcome = showing.body["id"].clone();
    assert_eq!(app.get("/api/v1/simulations").await.status, 200);
    assert_eq!(app.get("/api/v1/outcomes").await.status, 200);
    let read = app
        .get(&format!("/api/v1/outcomes/{}", outcome.as_str().unwrap()))
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    for (action, key, id) in [
        ("simulation.listed", "simulation_ids", &submitted.body["id"]),
        ("outcome.listed", "outcome_ids", &outcome),
    ] {
        let log = app
            .request(
                Method::GET,
                &format!("/api/v1/audit?action={action}"),
                Some(&admin),
                None,
            )
            .await;
        let entries = log.body["items"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{action}: {}", log.body);
        assert_eq!(entries[0]["detail"][key], json!([id]), "{action}");
    }
    let log = app
        .request(
            Method::GET,
            "/api/v1/audit?action=outcome.read",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(log.body["items"][0]["subject_id"], outcome);
}

async fn reading_a_runs_matches_is_audited_with_the_clients_shown(shape: Shape) {
    use crate::matching::{client, listing, matched};
    let app = TestApp::spawn(shape).await;
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    let wanted = app
        .create_persona(&client("Mira Holt", &["wine cellar"], &[], "Malibu", 3e7))
        .await;
    let listed = app
        .create_property(&listing(
            "Cellar House",
            "Malibu",
            2e7,
            &["wine cellar"],
            "A cellar.",
        ))
        .await;
    let run = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": listed["id"] }),
    )
    .await;
    let shown: Vec<&str> = run["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["persona_id"].as_str().unwrap())
        .collect();
    assert_eq!(shown, [wanted["id"].as_str().unwrap()]);

    let log = app
        .request(
            Method::GET,
            "/api/v1/audit?action=match.recommendations_read&limit=1",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let entry = &log.body["items"][0];
    assert_eq!(entry["subject_type"], "match_run");
    assert_eq!(entry["subject_id"], run["run"]["id"]);
    assert_eq!(entry["detail"]["persona_ids"], json!([wanted["id"]]));
}
