//! The audit log: persona reads and changes are recorded with who and which key, admins read
//! them, the tables refuse changes, and `troupe audit verify` names an entry changed behind the
//! database's back.

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::domain::Role;

use crate::helpers::{Shape, TestApp, both_shapes, persona};

both_shapes!(persona_access_is_audited_in_a_chain_that_detects_tampering);

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
async fn tamper(app: &TestApp, shape: Shape, statements: &[&str]) -> Result<(), sqlx::Error> {
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

    // A deletion is recorded, without the persona's content.
    let deleted = app
        .request(Method::DELETE, &path, Some(&app.key), None)
        .await;
    assert_eq!(deleted.status, 204);
    let log = app
        .request(Method::GET, "/api/v1/audit", Some(&admin), None)
        .await;
    assert_eq!(log.body["items"][0]["action"], "persona.deleted");
    assert_eq!(log.body["items"][0]["detail"], json!({}));
    assert!(!log.body.to_string().contains("Aspen"));

    let (intact, printed) = verify(&app).await;
    assert!(intact, "{printed}");
    assert!(printed.contains("4 entries checked"), "{printed}");

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
