//! Deleting clients: who may delete a shared client is the brokerage's setting; a deleted client
//! is hidden from every read at once and can be restored by an admin until the restore window
//! closes, when the scheduler erases them; an admin's erasure request erases at once.

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::domain::{RESTORE_WINDOW, Role};

use crate::{
    erasure::{erase_due, tables_holding},
    helpers::{Shape, TestApp, both_shapes, persona},
    matching::{client, listing, matched},
};

both_shapes!(
    who_may_delete_a_shared_client_is_the_brokerages_choice,
    a_deleted_client_is_hidden_everywhere_until_an_admin_restores_them,
    an_erasure_request_erases_at_once_and_a_closed_window_erases_the_rest
);

fn with_visibility(name: &str, visibility: &str) -> Value {
    let mut body = persona(name, "finance", &["wine cellar"], &[], 3e7);
    body["visibility"] = json!(visibility);
    body
}

async fn create_as(app: &TestApp, key: &str, body: &Value) -> String {
    let created = app
        .request(Method::POST, "/api/v1/personas", Some(key), Some(body))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

async fn delete_as(app: &TestApp, key: &str, id: &str) -> crate::helpers::Reply {
    app.request(
        Method::DELETE,
        &format!("/api/v1/personas/{id}"),
        Some(key),
        None,
    )
    .await
}

/// The audit entries with `action`, newest first.
async fn audited(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let log = app
        .request(
            Method::GET,
            &format!("/api/v1/audit?action={action}&limit=100"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    log.body["items"].as_array().unwrap().clone()
}

async fn who_may_delete_a_shared_client_is_the_brokerages_choice(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let alice = app.key.clone(); // an agent of team West
    let tess = app
        .key_for("Acme Realty", Some("West"), "tess", Role::TeamLead)
        .await;
    let east_lead = app
        .key_for("Acme Realty", Some("East"), "ed", Role::TeamLead)
        .await;
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    let shared = create_as(&app, &alice, &with_visibility("Shared One", "brokerage")).await;
    let team = create_as(&app, &alice, &with_visibility("Team One", "team")).await;
    let private = create_as(&app, &alice, &with_visibility("Private One", "private")).await;

    // By default the owner of a shared client may not delete them, nor a lead of another team.
    let settings = app
        .request(Method::GET, "/api/v1/settings", Some(&alice), None)
        .await;
    assert_eq!(settings.body, json!({ "deletion": "lead_or_admin" }));
    let refused = delete_as(&app, &alice, &shared).await;
    assert_eq!(
        refused.problem(403),
        "https://troupe.dev/problems/forbidden"
    );
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("team lead") && detail.contains("admin"),
        "{detail}"
    );
    delete_as(&app, &east_lead, &shared).await.problem(403);
    delete_as(&app, &alice, &team).await.problem(403);
    assert_eq!(
        app.get(&format!("/api/v1/personas/{shared}")).await.status,
        200
    );
    // A private client is always their owner's; the team's lead deletes the team's.
    assert_eq!(delete_as(&app, &alice, &private).await.status, 204);
    assert_eq!(delete_as(&app, &tess, &team).await.status, 204);

    // Only an admin changes the setting, to a value it has.
    let owner = json!({ "deletion": "owner" });
    app.request(Method::PUT, "/api/v1/settings", Some(&alice), Some(&owner))
        .await
        .problem(403);
    for bad in [
        json!({ "deletion": "anyone" }),
        json!({ "deletion": "owner", "retention_days": 5 }),
        json!({ "deletion": 1 }),
    ] {
        let refused = app
            .request(Method::PUT, "/api/v1/settings", Some(&admin), Some(&bad))
            .await;
        assert!(refused.status.is_client_error(), "{bad}: {}", refused.body);
    }
    assert_eq!(
        app.get("/api/v1/settings").await.body["deletion"],
        "lead_or_admin",
        "a refused change changes nothing"
    );
    let changed = app
        .request(Method::PUT, "/api/v1/settings", Some(&admin), Some(&owner))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body, owner);
    // Setting it again changes nothing and records nothing.
    app.request(Method::PUT, "/api/v1/settings", Some(&admin), Some(&owner))
        .await;
    let entries = audited(&app, &admin, "settings.updated").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        entries[0]["detail"],
        json!({ "deletion": { "from": "lead_or_admin", "to": "owner" } })
    );

    // Now the owner deletes their shared client; another agent still may not.
    let sam = app
        .key_for("Acme Realty", Some("West"), "sam", Role::Agent)
        .await;
    delete_as(&app, &sam, &shared).await.problem(403);
    assert_eq!(delete_as(&app, &alice, &shared).await.status, 204);
    delete_as(&app, &alice, &shared).await.problem(404);
}

async fn a_deleted_client_is_hidden_everywhere_until_an_admin_restores_them(shape: Shape) {
    const NAME: &str = "Harriet Quill";
    let app = TestApp::spawn(shape).await;
    let alice = app.key.clone();
    let tess = app
        .key_for("Acme Realty", Some("West"), "tess", Role::TeamLead)
        .await;
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    let mut body = client(NAME, &["wine cellar"], &[], "Malibu", 5e7);
    body["segment"] = json!("collectors");
    body["contact"] = json!({ "email": "harriet@example.com" });
    body["external_ids"] = json!({ "salesforce": "Q1" });
    let id = create_as(&app, &alice, &body).await;
    let private = create_as(&app, &alice, &with_visibility("Private Two", "private")).await;
    let property = app
        .create_property(&listing(
            "Cellar House",
            "Malibu",
            4e7,
            &["wine cellar"],
            "A house with a wine cellar.",
        ))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": property, "min_score": 0 }),
    )
    .await;
    assert!(before.to_string().contains(NAME), "{before}");

    let individual = app
        .post(
            "/api/v1/simulations/individual",
            &json!({ "persona_id": id, "scenario": { "type": "call", "context": { "purpose": "hello" } },
                     "enrichment_data": { "internal_notes": "Prefers mornings." } }),
        )
        .await;
    assert_eq!(individual.status, 202, "{}", individual.body);
    let run = individual.body["id"].as_str().unwrap().to_owned();
    app.wait_for_final(&run, std::time::Duration::from_secs(60))
        .await;
    let results = format!("/api/v1/simulations/{run}/results");
    assert!(
        app.get(&results)
            .await
            .body
            .to_string()
            .contains("Prefers mornings")
    );

    assert_eq!(delete_as(&app, &tess, &id).await.status, 204);
    assert_eq!(delete_as(&app, &alice, &private).await.status, 204);

    // Their run still reads, without them: as it will once they are erased.
    let without = app.get(&results).await;
    assert_eq!(without.status, 200, "{}", without.body);
    let text = without.body.to_string();
    assert!(
        !text.contains(NAME) && !text.contains("Prefers mornings") && !text.contains(&id),
        "{text}"
    );

    // Gone for everyone: read, change, search, email lookup, segments, simulations, matching.
    let path = format!("/api/v1/personas/{id}");
    for key in [&alice, &tess, &admin] {
        app.request(Method::GET, &path, Some(key), None)
            .await
            .problem(404);
    }
    let patched = app
        .request(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(&json!({ "biography": "Back?" })),
        )
        .await;
    assert_eq!(patched.status, 404, "{}", patched.body);
    for query in [
        "q=harriet",
        "email=harriet@example.com",
        "segment=collectors",
    ] {
        let listed = app.get(&format!("/api/v1/personas?{query}")).await;
        assert_eq!(listed.body["items"], json!([]), "{query}: {}", listed.body);
    }
    let listed = app.get("/api/v1/personas?limit=200").await;
    assert!(!listed.body.to_string().contains(NAME));
    let simulate = app
        .post(
            "/api/v1/simulations/individual",
            &json!({ "persona_id": id, "scenario": { "type": "call", "context": { "purpose": "hello" } } }),
        )
        .await;
    simulate.problem(404);
    let after = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": property, "min_score": 0 }),
    )
    .await;
    assert!(!after.to_string().contains(NAME), "{after}");
    // Their CRM id stays theirs until erasure, and a sync is told why.
    let synced = app
        .request(
            Method::PUT,
            "/api/v1/personas/by-external-id/salesforce/Q1",
            Some(&alice),
            Some(&json!({ "name": "Someone Else" })),
        )
        .await;
    synced.problem(409);
    assert!(
        synced.body["detail"]
            .as_str()
            .unwrap()
            .contains("deleted client"),
        "{}",
        synced.body
    );

    // The admin's list: names of clients the admin could see, the window's end, who deleted.
    app.request(Method::GET, "/api/v1/personas/deleted", Some(&alice), None)
        .await
        .problem(403);
    let deleted = app
        .request(Method::GET, "/api/v1/personas/deleted", Some(&admin), None)
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let items = deleted.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", deleted.body);
    let shared = items.iter().find(|d| d["id"] == id.as_str()).unwrap();
    assert_eq!(shared["name"], NAME);
    let erase_after: chrono::DateTime<chrono::Utc> =
        shared["erase_after"].as_str().unwrap().parse().unwrap();
    let window = erase_after - chrono::Utc::now();
    assert!(
        window <= RESTORE_WINDOW && window > RESTORE_WINDOW - chrono::Duration::minutes(5),
        "{window:?}"
    );
    let hidden = items.iter().find(|d| d["id"] == private.as_str()).unwrap();
    assert!(hidden.get("name").is_none(), "{hidden}");

    // Only an admin restores, once; the client is back as they were.
    let restore = format!("/api/v1/personas/{id}/restore");
    app.request(Method::POST, &restore, Some(&tess), None)
        .await
        .problem(403);
    let restored = app
        .request(Method::POST, &restore, Some(&admin), None)
        .await;
    assert_eq!(restored.status, 204, "{}", restored.body);
    app.request(Method::POST, &restore, Some(&admin), None)
        .await
        .problem(404);
    let back = app.get(&path).await;
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(back.body["name"], NAME);
    assert_eq!(back.body["version"], 1);
    assert_eq!(back.body["visibility"], "brokerage");
    let found = app.get("/api/v1/personas?q=harriet").await;
    assert_eq!(found.body["items"][0]["id"], id.as_str());
    let with_them = app.get(&results).await.body;
    assert_eq!(with_them["input_params"]["persona_id"], id.as_str());
    assert!(with_them.to_string().contains("Prefers mornings"));

    let deletions = audited(&app, &admin, "persona.deleted").await;
    assert_eq!(deletions.len(), 2);
    assert!(
        deletions
            .iter()
            .all(|e| e["detail"]["erase_after"].is_string())
    );
    let restorations = audited(&app, &admin, "persona.restored").await;
    assert_eq!(restorations.len(), 1);
    assert_eq!(restorations[0]["subject_id"], id.as_str());
}

async fn an_erasure_request_erases_at_once_and_a_closed_window_erases_the_rest(shape: Shape) {
    const NAME: &str = "Ottoline Vexley";
    let app = TestApp::spawn_api_only(shape).await;
    let alice = app.key.clone();
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    // A private client the admin cannot see is still erased at an erasure request; another
    // brokerage's admin erases nothing of it.
    let id = create_as(&app, &alice, &with_visibility(NAME, "private")).await;
    let erase = format!("/api/v1/personas/{id}?erase=now");
    let rival = app
        .key_for("Rival Estates", None, "rex", Role::BrokerageAdmin)
        .await;
    app.request(Method::DELETE, &erase, Some(&rival), None)
        .await
        .problem(404);
    app.request(
        Method::POST,
        &format!("/api/v1/personas/{id}/restore"),
        Some(&rival),
        None,
    )
    .await
    .problem(404);
    assert_eq!(app.get(&format!("/api/v1/personas/{id}")).await.status, 200);
    let refused = app
        .request(Method::DELETE, &erase, Some(&alice), None)
        .await;
    assert_eq!(
        refused.problem(403),
        "https://troupe.dev/problems/forbidden"
    );
    assert!(
        !tables_holding(&app, shape, &id, Some(id.parse().unwrap()))
            .await
            .is_empty()
    );
    let erased = app
        .request(Method::DELETE, &erase, Some(&admin), None)
        .await;
    assert_eq!(erased.status, 204, "{}", erased.body);
    app.get(&format!("/api/v1/personas/{id}"))
        .await
        .problem(404);
    app.request(
        Method::POST,
        &format!("/api/v1/personas/{id}/restore"),
        Some(&admin),
        None,
    )
    .await
    .problem(404);
    let mut holding_id = tables_holding(&app, shape, &id, Some(id.parse().unwrap())).await;
    holding_id.sort();
    assert_eq!(
        holding_id,
        ["audit_log", "events"],
        "the entry and the CRM's notice"
    );
    let entries = audited(&app, &admin, "persona.erased").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["detail"], json!({ "requested": "now" }));
    assert_eq!(
        app.events()
            .await
            .iter()
            .filter(|e| e.kind == "persona.deleted")
            .count(),
        1
    );
    app.request(Method::DELETE, &erase, Some(&admin), None)
        .await
        .problem(404);

    // A deleted client is erased by the cleanup only once their window has closed.
    let later = create_as(&app, &alice, &with_visibility("Later Client", "private")).await;
    assert_eq!(delete_as(&app, &alice, &later).await.status, 204);
    assert_eq!(erase_due(&app, chrono::Utc::now()).await, 0);
    let closed = chrono::Utc::now() + RESTORE_WINDOW + chrono::Duration::hours(1);
    assert_eq!(erase_due(&app, closed).await, 1);
    assert_eq!(erase_due(&app, closed).await, 0);
    let listed = app
        .request(Method::GET, "/api/v1/personas/deleted", Some(&admin), None)
        .await;
    assert_eq!(listed.body["items"], json!([]));
    // The erasure is recorded as done for who deleted them.
    let entries = audited(&app, &admin, "persona.erased").await;
    assert_eq!(
        entries[0]["detail"],
        json!({ "requested": "after_deletion" })
    );
    assert_eq!(entries[0]["subject_id"], later.as_str());
    let deletions = audited(&app, &admin, "persona.deleted").await;
    assert_eq!(entries[0]["actor_id"], deletions[0]["actor_id"]);
    let mut holding_id = tables_holding(&app, shape, &later, Some(later.parse().unwrap())).await;
    holding_id.sort();
    assert_eq!(holding_id, ["audit_log", "events"]);
}
