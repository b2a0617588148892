//! Honest panels: a panel smaller than asked says so (status, plan, results, summary), agents
//! split across segments add up to what was asked, and the factory's synthetic participants
//! never appear in the client book; photos are shown to each persona in an order of its own, so a
//! model's pull toward the first one is spread over them all and measured.

use std::time::Duration;

use serde_json::{Value, json};

use mock_llm::MockConfig;

use crate::helpers::{Options, Shape, TestApp, both_shapes, listing, persona};

both_shapes!(
    a_short_panel_says_so_and_synthetic_personas_stay_out_of_the_book,
    a_photo_without_a_caption_is_named_not_ranked,
    a_panel_over_the_configured_limit_is_refused_with_the_limit,
    a_model_s_pull_toward_the_first_photo_is_spread_and_measured,
);

async fn run(app: &TestApp, body: Value) -> (Value, Value) {
    let accepted = app.post("/api/v1/simulations/focus-group", &body).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let status = app.wait_for_final(&id, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "completed", "{status}");
    let results = app.get(&format!("/api/v1/simulations/{id}/results")).await;
    (status, results.body)
}

async fn a_short_panel_says_so_and_synthetic_personas_stay_out_of_the_book(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    for name in ["Ada", "Ben"] {
        app.create_persona(&persona(name, "tech", &["gym"], &[], 20e6))
            .await;
    }
    let property = app.create_property(&listing()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, results) = run(
        &app,
        json!({ "property_id": property, "persona_segments": ["tech"], "questions": ["First impression?"],
                "modifications_to_test": [], "simulation_params": { "num_agents": 20 } }),
    )
    .await;
    let warning = "asked for 20 from tech, 2 available";
    let warned = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with(warning))
    };
    assert!(warned(&status["warnings"]), "{status}");
    assert!(warned(&results["input_params"]["warnings"]), "{results}");
    assert!(warned(&results["results"]["warnings"]), "{results}");
    let summary = results["results"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!("Note: {warning}")),
        "{summary}"
    );

    // Five agents over two defined segments: three and two, five in all.
    for name in ["ski_families", "gulf_offices"] {
        let created = app
            .post(
                "/api/v1/segments",
                &json!({ "name": name, "attributes": { "features": [{ "value": "spa", "weight": 1 }] } }),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
    }
    let (status, results) = run(
        &app,
        json!({ "property_id": property, "persona_segments": ["ski_families", "gulf_offices"],
                "questions": ["First impression?"], "modifications_to_test": [],
                "simulation_params": { "num_agents": 5, "seed": 3 } }),
    )
    .await;
    assert_eq!(status["warnings"], json!([]), "{status}");
    let counts: Vec<u64> = results["input_params"]["synthetic"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [3, 2]);
    assert_eq!(status["progress"]["done"], 5, "{status}");

    // The client book holds the two clients; the five synthetic participants are listed apart.
    let book = app.get("/api/v1/personas?limit=200").await;
    let names: Vec<&str> = book.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ada", "Ben"]);
    let synthetic = app.get("/api/v1/personas?limit=200&synthetic=true").await;
    let made = synthetic.body["items"].as_array().unwrap();
    assert_eq!(made.len(), 5, "{}", synthetic.body);
    assert!(made.iter().all(|p| p["synthetic"] == true));
}

async fn a_photo_without_a_caption_is_named_not_ranked(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    for (name, wants) in [
        ("Ada", "wine cellar"),
        ("Ben", "heated pool"),
        ("Cy", "gym"),
    ] {
        app.create_persona(&persona(name, "tech", &[wants], &[], 30e6))
            .await;
    }
    let mut property = listing();
    property["photos"] = json!([
        { "url": "https://example.com/1.jpg", "description": "The wine cellar" },
        "https://example.com/2.jpg",
        { "url": "https://example.com/3.jpg", "description": "Heated pool under snow" }
    ]);
    let (_, results) = run(
        &app,
        json!({ "property": property, "persona_segments": ["tech"], "questions": ["First impression?"],
                "modifications_to_test": [], "simulation_params": { "num_agents": 3 } }),
    )
    .await;
    let ranked: Vec<u64> = results["results"]["detailed_insights"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "photo")
        .map(|i| i["photo"].as_u64().unwrap())
        .collect();
    assert!(
        !ranked.contains(&2),
        "an unseen photo is not ranked: {ranked:?}"
    );
    assert!(ranked.contains(&1) && ranked.contains(&3), "{ranked:?}");
    let warnings = results["results"]["warnings"].to_string();
    assert!(warnings.contains("photo 2 was not judged"), "{warnings}");
    for r in results["results"]["raw_responses"].as_array().unwrap() {
        let rated: Vec<u64> = r["judgement"]["photo_appeal"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["photo"].as_u64().unwrap())
            .collect();
        assert!(!rated.contains(&2), "{r}");
    }
}

async fn a_panel_over_the_configured_limit_is_refused_with_the_limit(shape: Shape) {
    let options = Options {
        vars: vec![
            ("TROUPE_SIMULATION_MAX_AGENTS", "3".to_owned()),
            // Room for a body of 5,001 ids.
            ("TROUPE_MAX_BODY_BYTES", "1000000".to_owned()),
        ],
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let mut ids = Vec::new();
    for name in ["Ada", "Ben", "Cy", "Di"] {
        let created = app
            .create_persona(&persona(name, "tech", &["gym"], &[], 20e6))
            .await;
        ids.push(created["id"].clone());
    }
    let property = app.create_property(&listing()).await["id"].clone();
    let body = |ids: &[Value]| {
        json!({ "property_id": property, "persona_ids": ids, "questions": ["First impression?"],
                "modifications_to_test": [] })
    };
    let refused = app
        .post("/api/v1/simulations/focus-group", &body(&ids))
        .await;
    refused.problem(422);
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("4 agents exceed the limit of 3"),
        "{detail}"
    );
    // Within the setting it runs.
    run(&app, body(&ids[..3])).await;
    // Beyond any setting the schema refuses the body before it is read further.
    let many: Vec<Value> = (0..5001).map(|_| json!(uuid::Uuid::new_v4())).collect();
    let refused = app
        .post("/api/v1/simulations/focus-group", &body(&many))
        .await;
    refused.problem(400);
}

/// A model that rates whichever photo it is shown first two points higher: were photos always
/// listed in the listing's order, photo 1 would win every time on that alone.
async fn a_model_s_pull_toward_the_first_photo_is_spread_and_measured(shape: Shape) {
    let options = Options {
        mock: MockConfig {
            photo_position_bias: 2,
            ..MockConfig::default()
        },
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let names = [
        "Ada", "Ben", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kit", "Lu",
    ];
    for name in names {
        // Wants no photo shows: every photo is a 3 on its caption alone.
        app.create_persona(&persona(name, "tech", &["gym"], &[], 30e6))
            .await;
    }
    let mut property = listing();
    property["photos"] = json!([
        { "url": "https://example.com/1.jpg", "description": "Street facade at dusk" },
        { "url": "https://example.com/2.jpg", "description": "Library with oak shelves" },
        { "url": "https://example.com/3.jpg", "description": "Guest bedroom" }
    ]);
    let (_, results) = run(
        &app,
        json!({ "property": property, "persona_segments": ["tech"], "questions": ["First impression?"],
                "modifications_to_test": [], "simulation_params": { "num_agents": 12 } }),
    )
    .await;
    let photos: Vec<&Value> = results["results"]["detailed_insights"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "photo")
        .collect();
    assert_eq!(photos.len(), 3, "{results}");
    let mut first_shown_to_someone = 0;
    for photo in &photos {
        let appeal = photo["appeal"]["mean"].as_f64().unwrap();
        assert!(appeal < 4.5, "no photo takes the whole pull: {photo}");
        let Some(order) = photo.get("order_effect") else {
            continue;
        };
        first_shown_to_someone += 1;
        assert_eq!(order["first_shown"]["mean"], 5.0, "{photo}");
        assert_eq!(order["without_bias"], photo["appeal"]["mean"], "{photo}");
    }
    assert!(
        first_shown_to_someone >= 2,
        "orders vary across the panel: {results}"
    );
    // Each persona's prompt listed the photos in its own order.
    let raw = results["results"]["raw_responses"].as_array().unwrap();
    let best: std::collections::BTreeSet<u64> = raw
        .iter()
        .filter_map(|r| {
            r["judgement"]["photo_appeal"]
                .as_array()?
                .iter()
                .find(|a| a["appeal"] == 5)
                .and_then(|a| a["photo"].as_u64())
        })
        .collect();
    assert!(
        best.len() >= 2,
        "the pull lands on different photos: {best:?}"
    );
}
