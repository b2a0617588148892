//! The PRD's contract: its example bodies sent verbatim work, and a careless request is refused
//! with words a person reads — the field by JSON pointer, the allowed values, the limit — never a
//! parser's type names, and never by silently dropping what was sent.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, Shape, TestApp, both_shapes, persona};

both_shapes!(
    the_prd_s_bodies_are_taken_as_written,
    careless_requests_are_refused_in_plain_words
);

/// The PRD's Persona Model, as a client fills it in (it has no name).
fn prd_persona() -> Value {
    json!({
        "visibility": "brokerage",
        "demographics": {
            "age_range": "45-55",
            "occupation": "hedge fund partner",
            "net_worth_range": "$100M-$250M",
            "location": { "city": "Greenwich", "region": "Connecticut", "country": "USA" }
        },
        "preferences": {
            "property_types": ["estate"],
            "locations": ["Greenwich", "Round Hill"],
            "features": ["wine cellar", "tennis court"],
            "deal_breakers": ["shared driveway"]
        },
        "personality_traits": { "openness": 0.4, "decision_style": "analytical", "communication_preference": "email" },
        "knowledge_graph": { "relationships": [{ "type": "advisor", "name": "J. Marsh" }], "interests": ["sailing"], "past_properties": [{ "title": "Nantucket cottage" }] },
        "interaction_history": [{ "date": "2026-10-02", "kind": "call", "summary": "Asked about schools" }],
        "enrichment_sources": []
    })
}

async fn the_prd_s_bodies_are_taken_as_written(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let created = app.post("/api/v1/personas", &prd_persona()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["name"], "Hedge fund partner, Greenwich");
    let persona_id = created.body["id"].as_str().unwrap().to_owned();
    // Given a name later, it keeps it.
    let mut named = prd_persona();
    named["name"] = json!("Harrison Vale");
    let replaced = app
        .request(
            Method::PUT,
            &format!("/api/v1/personas/{persona_id}"),
            Some(&app.key),
            Some(&named),
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["name"], "Harrison Vale");

    // The PRD's focus-group parameters: photos as plain URLs, no title, `simulation_type`.
    let focus_group = json!({
        "simulation_type": "focus_group",
        "property": {
            "description": "Shingle-style estate on four acres of Round Hill. Wine cellar, pool and a tennis court.",
            "photos": ["https://example.com/facade.jpg", "https://example.com/pool.jpg"],
            "price": 18500000,
            "location": { "city": "Greenwich", "region": "Connecticut", "country": "USA" },
            "features": ["wine cellar", "pool", "tennis court"]
        },
        "persona_segments": ["finance"],
        "questions": ["First impression?", "Would you buy at this price?"],
        "modifications_to_test": ["Add a guest house"],
        "simulation_params": { "num_agents": 1, "iterations": 1, "temperature": 0.7 }
    });
    let mut finance = persona("Ada", "finance", &["wine cellar"], &[], 30e6);
    finance["visibility"] = json!("brokerage");
    app.create_persona(&finance).await;
    let accepted = app
        .post("/api/v1/simulations/focus-group", &focus_group)
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let status = app.wait_for_final(&id, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "completed", "{status}");
    let results = app.get(&format!("/api/v1/simulations/{id}/results")).await;
    let property = &results.body["input_params"]["property"];
    assert_eq!(
        property["title"],
        "Shingle-style estate on four acres of Round Hill"
    );
    assert_eq!(
        property["photos"],
        json!([
            { "url": "https://example.com/facade.jpg", "description": "" },
            { "url": "https://example.com/pool.jpg", "description": "" }
        ])
    );

    // The PRD's individual simulation, `enrichment_data` and all.
    let individual = json!({
        "simulation_type": "individual",
        "persona_id": persona_id,
        "enrichment_data": {
            "public_info": { "board_seats": ["Round Hill Club"] },
            "internal_notes": "Prefers morning viewings.",
            "interaction_history": [{ "date": "2026-11-01", "summary": "Toured a Belle Haven listing" }]
        },
        "scenario": { "type": "property_viewing", "context": { "property": "Round Hill estate", "price": 18500000 } }
    });
    let accepted = app
        .post("/api/v1/simulations/individual", &individual)
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let status = app.wait_for_final(&id, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "completed", "{status}");

    // `/enrich` with the PRD's `enrichment_data` nesting: nothing is dropped.
    let enrich = json!({ "enrichment_data": {
        "public_info": "Sold his fund's stake in 2026.",
        "internal_notes": "His daughter starts at Greenwich Academy in the fall.",
        "interaction_history": [{ "date": "2026-11-10", "kind": "call", "summary": "Wants a pool house" }]
    } });
    let run = crate::enrichment::enrich(&app, &persona_id, &enrich).await;
    assert_eq!(run["sources"].as_array().unwrap().len(), 3, "{run}");
    let export = app
        .get(&format!("/api/v1/personas/{persona_id}/export"))
        .await;
    assert!(
        export.body.to_string().contains("Greenwich Academy"),
        "the notes are kept: {}",
        export.body
    );
}

/// Asserts a problem whose `errors` hold `pointer`, and returns that error's detail.
fn error_at(reply: &Reply, status: u16, pointer: &str) -> String {
    reply.problem(status);
    let text = reply.body.to_string();
    for parser_word in [
        "occurred while parsing",
        "optional_",
        "list_",
        "Expected input type",
    ] {
        assert!(!text.contains(parser_word), "parser words in {text}");
    }
    reply.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {text}"))
        .iter()
        .find(|e| e["pointer"] == pointer)
        .unwrap_or_else(|| panic!("no error at {pointer} in {text}"))["detail"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn careless_requests_are_refused_in_plain_words(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    // An unknown field is named, with the one meant.
    let mut budget_on_top = prd_persona();
    budget_on_top["budget"] = json!({ "max": 45000000 });
    let reply = app.post("/api/v1/personas", &budget_on_top).await;
    let detail = error_at(&reply, 400, "/budget");
    assert_eq!(
        detail,
        "`/budget` is not a field of a persona; did you mean `/preferences/budget`?"
    );
    let reply = app
        .post(
            "/api/v1/properties",
            &json!({ "title": "T", "price": 1e6, "bedroms": 4 }),
        )
        .await;
    let detail = error_at(&reply, 400, "/bedroms");
    assert!(detail.ends_with("did you mean `/bedrooms`?"), "{detail}");
    let reply = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({ "property": { "title": "T", "price": 1e6 }, "simulation_params": { "agents": 4 } }),
        )
        .await;
    let detail = error_at(&reply, 400, "/simulation_params/agents");
    assert!(
        detail.contains("did you mean `/simulation_params/num_agents`?"),
        "{detail}"
    );

    // Enums say what they allow.
    let reply = app
        .post(
            "/api/v1/simulations/marketing",
            &json!({ "persona_segments": ["x"], "materials": [{ "name": "A", "body": "b" }], "channels": ["SMS"] }),
        )
        .await;
    let detail = error_at(&reply, 400, "/channels/0");
    assert!(detail.contains("`email`, `sms`"), "{detail}");
    assert!(detail.ends_with("(did you mean `sms`?)"), "{detail}");

    // One limit, one answer, and the schema advertises it.
    for agents in [201, 1001] {
        let reply = app
            .post(
                "/api/v1/simulations/focus-group",
                &json!({ "property": { "title": "T", "price": 1e6 }, "simulation_params": { "num_agents": agents } }),
            )
            .await;
        let detail = error_at(&reply, 400, "/simulation_params/num_agents");
        assert_eq!(
            detail,
            format!("`/simulation_params/num_agents` must be between 1 and 200, not {agents}")
        );
    }
    let spec = app.request(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(
        spec.body["components"]["schemas"]["SimulationParams"]["properties"]["num_agents"]["maximum"],
        200.0
    );

    // Wrong types, in words.
    let reply = app
        .post(
            "/api/v1/personas",
            &json!({ "preferences": { "features": "pool" }, "personality_traits": { "openness": "high" } }),
        )
        .await;
    assert_eq!(
        error_at(&reply, 400, "/preferences/features"),
        "`/preferences/features` must be a list, not the text \"pool\""
    );
    assert_eq!(
        error_at(&reply, 400, "/personality_traits/openness"),
        "`/personality_traits/openness` must be a number, not the text \"high\""
    );
    let reply = app
        .raw(
            app.client()
                .post(format!("{}/api/v1/personas", app.base))
                .bearer_auth(&app.key)
                .header("content-type", "application/json")
                .body("{\"name\": \"Ada\","),
        )
        .await;
    assert!(error_at(&reply, 400, "").starts_with("the body is not valid JSON"));

    // Rules between fields are 422s, each named.
    let mut upside_down = prd_persona();
    upside_down["preferences"]["budget"] = json!({ "min": 50000000, "max": 1000000 });
    let reply = app.post("/api/v1/personas", &upside_down).await;
    let detail = error_at(&reply, 422, "/preferences/budget/min");
    assert!(
        detail.contains("50,000,000") && detail.contains("1,000,000"),
        "{detail}"
    );
    let created = app.create_persona(&prd_persona()).await;
    let id = created["id"].as_str().unwrap();
    let reply = app
        .post(
            "/api/v1/simulations/marketing",
            &json!({ "simulation_type": "focus_group", "persona_ids": [id],
                     "materials": [{ "name": "A", "body": "b" }], "channels": ["email"] }),
        )
        .await;
    let detail = error_at(&reply, 422, "/simulation_type");
    assert!(
        detail.contains("/api/v1/simulations/focus-group"),
        "{detail}"
    );

    // A merge patch is held to the same schema.
    let reply = app
        .raw(
            app.client()
                .patch(format!("{}/api/v1/personas/{id}", app.base))
                .bearer_auth(&app.key)
                .header("content-type", "application/merge-patch+json")
                .body(json!({ "budget": { "max": 1 } }).to_string()),
        )
        .await;
    let detail = error_at(&reply, 400, "/budget");
    assert!(
        detail.ends_with("did you mean `/preferences/budget`?"),
        "{detail}"
    );
    // Query parameters are held to the schema too, which carries their limits.
    let reply = app.get("/api/v1/personas?limit=500").await;
    reply.problem(400);
    assert_eq!(reply.body["errors"][0]["parameter"], "limit");
    assert_eq!(
        reply.body["errors"][0]["detail"],
        "the query parameter `limit` must be between 1 and 200, not 500"
    );
    let params = &spec.body["paths"]["/personas"]["get"]["parameters"];
    let limit = params
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["maximum"], 200.0);
    let reply = app.get("/api/v1/simulations?kind=podcast").await;
    reply.problem(400);
    assert!(
        reply.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("`focus_group`, `marketing`"),
        "{}",
        reply.body
    );
    app.get("/api/v1/personas?q=%00").await.problem(422);
    let admin = app
        .key_for(
            "Acme Realty",
            None,
            "root",
            troupe_shared::domain::Role::BrokerageAdmin,
        )
        .await;
    for cursor in ["-1", "0", "later"] {
        app.request(
            Method::GET,
            &format!("/api/v1/audit?cursor={cursor}"),
            Some(&admin),
            None,
        )
        .await
        .problem(422);
    }
    let reply = app.get("/api/v1/personas/harrison-vale").await;
    reply.problem(400);
    assert_eq!(
        reply.body["errors"][0]["detail"],
        "the path's `id` must be an id (a UUID as text), not the text \"harrison-vale\""
    );
    // A 405 says what the resource takes.
    let reply = app
        .request(Method::PATCH, "/api/v1/properties", Some(&app.key), None)
        .await;
    reply.problem(405);
    let allow = reply.headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    // Unknown fields on enrichment and webhooks too.
    let reply = app
        .post(
            &format!("/api/v1/personas/{id}/enrich"),
            &json!({ "notes": "x" }),
        )
        .await;
    error_at(&reply, 400, "/notes");
    let reply = app
        .request(
            Method::POST,
            "/api/v1/webhooks",
            Some(&admin),
            Some(&json!({ "url": "https://crm.example.com/hook", "events": ["simulation.completed"] })),
        )
        .await;
    let detail = error_at(&reply, 400, "/events");
    assert!(detail.ends_with("did you mean `/event_types`?"), "{detail}");
}
