//! Persona CRUD with cursor pagination and optimistic concurrency.

use reqwest::Method;
use serde_json::json;
use troupe_shared::domain::Role;

use crate::helpers::{Shape, TestApp, both_shapes, persona};

both_shapes!(
    personas_are_created_paged_updated_and_deleted,
    conditional_writes_merge_patches_and_filters,
    the_timeline_shows_each_change_by_field
);

async fn personas_are_created_paged_updated_and_deleted(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let mut created = Vec::new();
    for i in 0..5 {
        let reply = app
            .post(
                "/api/v1/personas",
                &persona(&format!("Client {i}"), "tech", &["pool"], &[], 1e7),
            )
            .await;
        assert_eq!(reply.status, 201);
        let id = reply.body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            reply.headers["location"],
            format!("/api/v1/personas/{id}").as_str()
        );
        assert_eq!(reply.body["version"], 1);
        assert_eq!(reply.body["preferences"]["features"], json!(["pool"]));
        created.push(id);
    }

    let mut seen = Vec::new();
    let mut path = "/api/v1/personas?limit=2".to_owned();
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/personas?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, created, "every persona once, in creation order");

    let id = &created[0];
    let mut update = persona(
        "Client 0, now in finance",
        "finance",
        &["wine cellar"],
        &["flood zone"],
        2e7,
    );
    update["version"] = json!(1);
    let updated = app
        .request(
            Method::PUT,
            &format!("/api/v1/personas/{id}"),
            Some(&app.key),
            Some(&update),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["version"], 2);
    assert_eq!(updated.body["segment"], "finance");
    // A writer who still holds version 1 is told, not silently overwritten.
    let stale = app
        .request(
            Method::PUT,
            &format!("/api/v1/personas/{id}"),
            Some(&app.key),
            Some(&update),
        )
        .await;
    assert!(stale.problem(412).ends_with("/precondition-failed"));
    let segment = app.get("/api/v1/personas?segment=finance").await;
    assert_eq!(segment.body["items"].as_array().unwrap().len(), 1);

    // A client shared with the brokerage is deleted by a lead of their team, not their agent
    // (the brokerage's default; tests/e2e/deletion.rs has the rest).
    let path = format!("/api/v1/personas/{id}");
    app.request(Method::DELETE, &path, Some(&app.key), None)
        .await
        .problem(403);
    let lead = app
        .key_for("Acme Realty", Some("West"), "tess", Role::TeamLead)
        .await;
    let deleted = app.request(Method::DELETE, &path, Some(&lead), None).await;
    assert_eq!(deleted.status, 204);
    app.get(&path).await.problem(404);
}

/// `If-Match` against the `ETag` a read gave, JSON Merge Patch, and the list's filters.
async fn conditional_writes_merge_patches_and_filters(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let mut ada = persona("Ada Lovelace", "finance", &["wine cellar"], &[], 3e7);
    ada["biography"] = json!("Collects 100% organic Burgundy; summers in Aspen.");
    let ada = app.create_persona(&ada).await;
    let mut ben = persona("Ben", "tech", &["gym"], &[], 2e7);
    ben["visibility"] = json!("team");
    app.create_persona(&ben).await;
    let path = format!("/api/v1/personas/{}", ada["id"].as_str().unwrap());

    let read = app.get(&path).await;
    assert_eq!(read.headers["etag"], "\"1\"");
    let patch = |body: serde_json::Value, if_match: Option<&str>| {
        let mut request = app
            .client()
            .patch(format!("{}{path}", app.base))
            .bearer_auth(&app.key)
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string());
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        app.raw(request)
    };
    let patched = patch(
        json!({ "biography": null, "visibility": "brokerage", "preferences": { "budget": { "max": 4.0e7 } } }),
        Some("\"1\""),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.headers["etag"], "\"2\"");
    assert!(patched.body["biography"].is_null());
    assert_eq!(patched.body["visibility"], "brokerage");
    assert_eq!(patched.body["preferences"]["budget"]["max"], 4.0e7);
    // Merged, not replaced: the rest of the preferences stay.
    assert_eq!(
        patched.body["preferences"]["features"],
        json!(["wine cellar"])
    );
    // A writer holding version 1 gets 412, and nothing changes.
    let stale = patch(json!({ "name": "Someone Else" }), Some("\"1\"")).await;
    assert!(stale.problem(412).ends_with("/precondition-failed"));
    let mut replacement = ada.clone();
    replacement["name"] = json!("Someone Else");
    let stale_put = app
        .raw(
            app.client()
                .put(format!("{}{path}", app.base))
                .bearer_auth(&app.key)
                .header("if-match", "\"1\"")
                .json(&replacement),
        )
        .await;
    stale_put.problem(412);
    assert_eq!(app.get(&path).await.body["name"], "Ada Lovelace");
    // A patch that breaks the model is refused whole.
    let bad = patch(json!({ "personality_traits": { "openness": 2 } }), None).await;
    assert_eq!(bad.problem(400), "https://troupe.dev/problems/invalid-body");
    assert_eq!(
        bad.body["errors"][0]["pointer"],
        "/personality_traits/openness"
    );
    let bad = patch(json!({ "visibility": "everyone" }), None).await;
    assert_eq!(bad.problem(400), "https://troupe.dev/problems/invalid-body");
    assert_eq!(bad.body["errors"][0]["pointer"], "/visibility");

    // Filters: text in name or biography, visibility, owner.
    let names = |reply: &crate::helpers::Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&app.get("/api/v1/personas?q=LOVELACE").await),
        ["Ada Lovelace"]
    );
    assert_eq!(
        names(&app.get("/api/v1/personas?visibility=team").await),
        ["Ben"]
    );
    assert_eq!(
        names(&app.get("/api/v1/personas?q=100%25").await),
        Vec::<String>::new(),
        "the biography was removed"
    );
    assert_eq!(
        names(&app.get("/api/v1/personas?q=%25").await),
        Vec::<String>::new(),
        "% is literal"
    );
    let owner = ada["agent_id"].as_str().unwrap();
    assert_eq!(
        names(&app.get(&format!("/api/v1/personas?owner_id={owner}")).await).len(),
        2
    );
    assert_eq!(
        names(
            &app.get(&format!(
                "/api/v1/personas?owner_id={}",
                uuid::Uuid::new_v4()
            ))
            .await
        )
        .len(),
        0
    );
}

async fn the_timeline_shows_each_change_by_field(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let created = app
        .create_persona(&persona("Ada", "finance", &["wine cellar"], &[], 3e7))
        .await;
    let path = format!("/api/v1/personas/{}", created["id"].as_str().unwrap());
    let patched = app
        .raw(
            app.client()
                .patch(format!("{}{path}", app.base))
                .bearer_auth(&app.key)
                .header("content-type", "application/merge-patch+json")
                .body(json!({ "preferences": { "budget": { "max": 4.0e7 } } }).to_string()),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let mut replaced = patched.body.clone();
    replaced["biography"] = json!("Moved to Aspen.");
    replaced["visibility"] = json!("brokerage");
    let put = app
        .request(Method::PUT, &path, Some(&app.key), Some(&replaced))
        .await;
    assert_eq!(put.status, 200, "{}", put.body);

    let history = app.get(&format!("{path}/history")).await;
    assert_eq!(history.status, 200, "{}", history.body);
    let steps = history.body.as_array().unwrap();
    let versions: Vec<i64> = steps
        .iter()
        .map(|s| s["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [3, 2, 1]);
    let fields = |step: &serde_json::Value| -> Vec<String> {
        step["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(fields(&steps[0]), ["biography"]);
    assert_eq!(fields(&steps[1]), ["preferences.budget.max"]);
    assert_eq!(steps[1]["changes"][0]["from"], 3.0e7);
    assert_eq!(steps[1]["changes"][0]["to"], 4.0e7);
    assert_eq!(steps[2]["change"], "created");
    assert!(fields(&steps[2]).contains(&"name".to_owned()));

    let first = app.get(&format!("{path}/versions/1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["profile"]["preferences"]["budget"]["max"], 3.0e7);
    assert_eq!(
        app.get(&format!("{path}/versions/9")).await.problem(404),
        "https://troupe.dev/problems/not-found"
    );
    let outsider = app
        .key_for("Rival Estates", None, "rex", Role::BrokerageAdmin)
        .await;
    let hidden = app
        .request(
            Method::GET,
            &format!("{path}/history"),
            Some(&outsider),
            None,
        )
        .await;
    assert_eq!(hidden.problem(404), "https://troupe.dev/problems/not-found");
}
