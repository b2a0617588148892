//! Persona CRUD with cursor pagination and optimistic concurrency.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Options, Shape, TestApp, both_shapes, persona};

both_shapes!(personas_are_created_paged_updated_and_deleted);

async fn personas_are_created_paged_updated_and_deleted(shape: Shape) {
    let app = TestApp::spawn_with(
        shape,
        Options {
            workers: 0,
            ..Options::default()
        },
    )
    .await;
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
    assert!(stale.problem(409).ends_with("/conflict"));
    let segment = app.get("/api/v1/personas?segment=finance").await;
    assert_eq!(segment.body["items"].as_array().unwrap().len(), 1);

    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/personas/{id}"),
            Some(&app.key),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    app.get(&format!("/api/v1/personas/{id}"))
        .await
        .problem(404);
}
