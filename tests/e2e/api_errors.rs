//! Bad input gets a clear problem+json 4xx, never a 500, and stores nothing.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Options, Shape, TestApp, both_shapes, persona, seed};

both_shapes!(
    bad_requests_get_problem_responses,
    requests_without_a_valid_key_are_refused,
    bad_simulation_requests_are_refused_before_anything_is_stored
);

async fn spawn_api_only(shape: Shape) -> TestApp {
    TestApp::spawn_api_only(shape).await
}

async fn bad_requests_get_problem_responses(shape: Shape) {
    let app = spawn_api_only(shape).await;
    let property_id = seed(&app).await;
    let focus_group = "/api/v1/simulations/focus-group";
    let raw_post = |path: &str, body: &'static str| {
        app.client()
            .post(format!("{}{path}", app.base))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(body)
    };

    // Malformed JSON, wrong types, missing fields.
    app.raw(raw_post("/api/v1/personas", "{\"name\": "))
        .await
        .problem(400);
    app.raw(raw_post("/api/v1/personas", "{\"name\": [\"Ada\"]}"))
        .await
        .problem(400);
    app.raw(raw_post(
        "/api/v1/personas",
        "{\"name\": \"Ada\", \"preferences\": {\"features\": \"pool\"}}",
    ))
    .await
    .problem(400);
    // The PRD's persona has no name: one without is labelled, not refused.
    let unnamed = app
        .raw(raw_post("/api/v1/personas", "{\"segment\": \"tech\"}"))
        .await;
    assert_eq!(unnamed.status, 201, "{}", unnamed.body);
    assert_eq!(unnamed.body["name"], "Tech client");
    app.raw(raw_post("/api/v1/properties", "{\"title\": \"x\"}"))
        .await
        .problem(400);
    app.raw(raw_post(
        "/api/v1/properties",
        "{\"title\": \"x\", \"price\": \"a lot\"}",
    ))
    .await
    .problem(400);

    // Out-of-range values.
    for agents in [0, 10_000] {
        let body = json!({ "property_id": property_id, "persona_segments": ["tech"], "simulation_params": { "num_agents": agents } });
        app.post(focus_group, &body).await.problem(400);
    }
    let negative_price = json!({ "title": "x", "price": -5 });
    app.post("/api/v1/properties", &negative_price)
        .await
        .problem(400);
    let too_many_iterations = json!({ "property_id": property_id, "persona_segments": ["tech"], "simulation_params": { "iterations": 11 } });
    app.post(focus_group, &too_many_iterations)
        .await
        .problem(400);

    // Inconsistent or empty requests.
    let both = json!({ "property_id": property_id, "property": { "title": "x", "price": 1 }, "persona_segments": ["tech"] });
    assert!(
        app.post(focus_group, &both)
            .await
            .problem(422)
            .ends_with("/validation-failed")
    );
    let nobody = json!({ "property_id": property_id });
    app.post(focus_group, &nobody).await.problem(422);
    let empty_segment = json!({ "property_id": property_id, "persona_segments": ["astronauts"] });
    app.post(focus_group, &empty_segment).await.problem(404);

    // Oversized body (the test app allows 64 KiB).
    // A client of its own: the server answers before reading the body and closes the
    // connection, which a pooled client could otherwise try to reuse.
    let mut huge = persona(&"x".repeat(100), "tech", &[], &[], 1.0);
    huge["interaction_history"] = json!(vec!["y".repeat(1000); 100]);
    let oversized = reqwest::Client::new()
        .post(format!("{}/api/v1/personas", app.base))
        .bearer_auth(&app.key)
        .json(&huge);
    assert!(
        app.raw(oversized)
            .await
            .problem(413)
            .ends_with("/payload-too-large")
    );

    // Unknown ids, in paths and in bodies.
    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v1/personas/{unknown}"),
        format!("/api/v1/properties/{unknown}"),
        format!("/api/v1/simulations/{unknown}/status"),
        format!("/api/v1/simulations/{unknown}/results"),
    ] {
        assert!(
            app.get(&path).await.problem(404).ends_with("/not-found"),
            "{path}"
        );
    }
    app.get("/api/v1/personas/not-a-uuid").await.problem(400);
    app.get("/api/v1/nowhere").await.problem(404);
    let unknown_persona = json!({ "property_id": property_id, "persona_ids": [unknown] });
    app.post(focus_group, &unknown_persona).await.problem(404);
    let unknown_property = json!({ "property_id": unknown, "persona_segments": ["tech"] });
    app.post(focus_group, &unknown_property).await.problem(404);
    app.request(
        Method::DELETE,
        &format!("/api/v1/personas/{unknown}"),
        Some(&app.key),
        None,
    )
    .await
    .problem(404);
    app.get("/api/v1/personas?cursor=bogus").await.problem(422);
    app.get("/api/v1/personas?limit=0").await.problem(400);

    // Nothing refused above was stored: the four seeded personas and the unnamed one.
    let list = app.get("/api/v1/personas?limit=100").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 5);
}

async fn requests_without_a_valid_key_are_refused(shape: Shape) {
    let app = spawn_api_only(shape).await;
    let forged = format!("trp_{}_{}", uuid::Uuid::now_v7().simple(), "0".repeat(64));
    let wrong_secret = format!("{}{}", &app.key[..app.key.len() - 64], "f".repeat(64));
    for key in [
        None,
        Some("nonsense"),
        Some(forged.as_str()),
        Some(wrong_secret.as_str()),
    ] {
        let reply = app
            .request(Method::GET, "/api/v1/personas", key, None)
            .await;
        assert!(reply.problem(401).ends_with("/unauthorized"), "{key:?}");
    }
    // The service's own endpoints need no key.
    for path in ["/healthz", "/readyz", "/openapi.json", "/metrics"] {
        let reply = app.request(Method::GET, path, None, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    }
    let spec = app
        .request(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    for path in [
        "/simulations/focus-group",
        "/simulations/marketing",
        "/simulations/intervention",
        "/simulations/individual",
        "/segments",
    ] {
        assert!(spec["paths"][path]["post"].is_object(), "{path}: {spec}");
    }
    let judgement = &spec["components"]["schemas"]["Judgement"];
    assert_eq!(
        judgement["discriminator"]["propertyName"], "kind",
        "judgements are tagged by kind: {judgement}"
    );
}

async fn bad_simulation_requests_are_refused_before_anything_is_stored(shape: Shape) {
    let app = TestApp::spawn_with(
        shape,
        Options {
            workers: 0,
            vars: vec![("TROUPE_SIMULATION_MAX_AGENTS", "3".into())],
            ..Options::default()
        },
    )
    .await;
    let property_id = seed(&app).await;
    let mine = app.get("/api/v1/personas").await.body["items"][0]["id"].clone();
    let rival = app
        .key_for(
            "Rival Estates",
            None,
            "mallory",
            troupe_shared::domain::Role::Agent,
        )
        .await;
    let theirs = app
        .request(
            Method::POST,
            "/api/v1/personas",
            Some(&rival),
            Some(&persona("Theirs", "tech", &[], &[], 1.0)),
        )
        .await
        .body["id"]
        .clone();
    let unknown = uuid::Uuid::now_v7();
    let material = json!({ "name": "A", "body": "Hello" });
    let touch = |day: i64| json!({ "day": day, "channel": "email", "message": "Hi" });
    let scenario = json!({ "type": "call", "context": { "purpose": "intro" } });
    let cases: Vec<(&str, serde_json::Value, u16)> = vec![
        // Unknown ids, and another brokerage's, look the same: not found.
        (
            "marketing",
            json!({ "persona_ids": [unknown], "materials": [material], "channels": ["email"] }),
            404,
        ),
        (
            "marketing",
            json!({ "persona_ids": [theirs], "materials": [material], "channels": ["email"] }),
            404,
        ),
        (
            "individual",
            json!({ "persona_id": theirs, "scenario": scenario }),
            404,
        ),
        (
            "focus-group",
            json!({ "property_id": property_id, "persona_segments": ["astronauts"] }),
            404,
        ),
        // Empty lists and out-of-range numbers are schema errors.
        (
            "focus-group",
            json!({ "property_id": property_id, "persona_ids": [mine], "questions": [] }),
            400,
        ),
        (
            "marketing",
            json!({ "persona_ids": [mine], "materials": [], "channels": ["email"] }),
            400,
        ),
        (
            "marketing",
            json!({ "persona_ids": [mine], "materials": [material], "channels": ["carrier pigeon"] }),
            400,
        ),
        (
            "marketing",
            json!({ "persona_ids": [mine], "materials": [{ "name": "A", "body": "x".repeat(10_001) }], "channels": ["email"] }),
            400,
        ),
        (
            "intervention",
            json!({ "persona_ids": [mine], "variants": [] }),
            400,
        ),
        (
            "intervention",
            json!({ "persona_ids": [mine], "variants": [{ "name": "A", "touches": [touch(-1)] }] }),
            400,
        ),
        (
            "individual",
            json!({ "persona_id": mine, "scenario": scenario, "simulation_params": { "iterations": 0 } }),
            400,
        ),
        // Well-formed but inconsistent: validation failures.
        (
            "intervention",
            json!({ "persona_ids": [mine], "variants": [{ "name": "A", "touches": [touch(5), touch(2)] }] }),
            422,
        ),
        (
            "marketing",
            json!({ "persona_ids": [mine], "materials": [material], "channels": ["email", "email"] }),
            422,
        ),
        (
            "marketing",
            json!({ "persona_segments": ["finance", "tech"], "materials": [material], "channels": ["email"] }),
            422,
        ),
        (
            "marketing",
            json!({ "materials": [material], "channels": ["email"] }),
            422,
        ),
        (
            "individual",
            json!({ "persona_id": mine, "scenario": { "type": "call", "context": "just a string" } }),
            422,
        ),
        (
            "individual",
            json!({ "persona_id": mine, "scenario": scenario, "simulation_params": { "num_agents": 2 } }),
            422,
        ),
    ];
    for (kind, body, status) in cases {
        let reply = app
            .post(&format!("/api/v1/simulations/{kind}"), &body)
            .await;
        assert_eq!(reply.status, status, "{kind} {body}: {}", reply.body);
        reply.problem(status);
    }
    if shape == Shape::Distributed {
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM simulations")
            .fetch_one(&app.postgres().await)
            .await
            .unwrap();
        assert_eq!(stored, 0, "nothing was stored, so nothing was enqueued");
    }
}
