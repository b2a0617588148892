//! Marketing, intervention and individual simulations, segments with the persona factory, and
//! discussion rounds, from submission to results through the mock provider over HTTP.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Options, Shape, TestApp, both_shapes, persona, seed};

both_shapes!(
    a_marketing_test_compares_materials_and_channels,
    an_intervention_test_compares_sequences,
    an_individual_simulation_answers_in_one_call,
    a_segment_s_synthetic_personas_are_made_once_per_seed,
    discussion_rounds_follow_the_questions,
    message_advice_is_rewritten_copy_not_an_echo,
);

/// Submits, waits, and returns the results document.
async fn run(app: &TestApp, path: &str, body: &Value) -> Value {
    let accepted = app.post(path, body).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap();
    let status = app.wait_for_final(id, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["progress"]["done"], status["progress"]["total"]);
    app.get(&format!("/api/v1/simulations/{id}/results"))
        .await
        .body
}

fn insights<'a>(results: &'a Value, kind: &str) -> Vec<&'a Value> {
    results["results"]["detailed_insights"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == kind)
        .collect()
}

fn rate(insight: &Value, field: &str) -> f64 {
    let mean = insight[field]["mean"].as_f64().unwrap();
    let [low, high] = [
        insight[field]["ci95"][0].as_f64().unwrap(),
        insight[field]["ci95"][1].as_f64().unwrap(),
    ];
    assert!(
        (0.0..=1.0).contains(&mean) && low <= mean && mean <= high,
        "{field}: {insight}"
    );
    mean
}

async fn a_marketing_test_compares_materials_and_channels(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    seed(&app).await;
    let mut emailer = persona("Eve", "finance", &["wine cellar"], &[], 30e6);
    emailer["personality_traits"]["communication_preference"] = json!("email");
    app.create_persona(&emailer).await;
    let body = json!({
        "persona_segments": ["finance", "tech"],
        "materials": [
            { "name": "Cellar", "subject": "A 3,000-bottle wine cellar in Aspen", "body": "Tour the wine cellar and home theater." },
            { "name": "Generic", "subject": "New listing", "body": "A new luxury home is available." }
        ],
        "channels": ["email", "sms"],
        "simulation_params": { "seed": 3 }
    });
    let results = run(&app, "/api/v1/simulations/marketing", &body).await;
    // 5 personas × 2 materials × 2 channels, one round.
    assert_eq!(
        results["results"]["raw_responses"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert_eq!(results["metadata"]["llm_calls"], 20);
    let overall: Vec<&Value> = insights(&results, "engagement")
        .into_iter()
        .filter(|i| i["segment"] == "all")
        .collect();
    assert_eq!(overall.len(), 4, "{results}");
    let reply = |material: &str, channel: &str| {
        let cell = overall
            .iter()
            .find(|i| i["material"] == material && i["channel"] == channel)
            .unwrap();
        rate(cell, "open_rate");
        rate(cell, "click_rate");
        rate(cell, "reply_rate")
    };
    assert!(
        reply("Cellar", "email") > reply("Generic", "email"),
        "relevant copy draws more replies"
    );
    // Per-segment cells as well as the panel's.
    assert_eq!(insights(&results, "engagement").len(), 12);
    let kinds: Vec<&str> = results["results"]["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"message") && kinds.contains(&"channel"),
        "{kinds:?}"
    );
    assert!(
        results["results"]["summary"]
            .as_str()
            .unwrap()
            .contains("Predicted engagement")
    );
    // What to send whom: one entry per client, its best cell at least as good as the next.
    let picks = insights(&results, "best_for_client");
    assert_eq!(picks.len(), 5, "{results}");
    for pick in &picks {
        let best = pick["best"]["reply_rate"].as_f64().unwrap();
        assert!(
            best >= pick["next_best"]["reply_rate"].as_f64().unwrap(),
            "{pick}"
        );
    }
    let eve = picks.iter().find(|p| p["persona_name"] == "Eve").unwrap();
    assert_eq!(
        eve["best"]["material"], "Cellar",
        "she wants a wine cellar: {eve}"
    );
    assert_eq!(eve["best"]["channel"], "email", "and prefers email: {eve}");
}

async fn an_intervention_test_compares_sequences(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    seed(&app).await;
    let body = json!({
        "persona_segments": ["finance", "tech"],
        "goal": "book a private viewing of the wine cellar estate",
        "variants": [
            { "name": "Patient", "touches": [
                { "day": 0, "channel": "email", "message": "A private wine cellar tasting at the estate?" },
                { "day": 7, "channel": "phone", "message": "Following up on the wine cellar tasting." },
                { "day": 14, "channel": "email", "message": "Last seats for the tasting." }
            ] },
            { "name": "Rapid", "touches": [
                { "day": 0, "channel": "sms", "message": "New listing, call me." },
                { "day": 1, "channel": "sms", "message": "Did you see it?" },
                { "day": 1, "channel": "sms", "message": "Call me today." },
                { "day": 2, "channel": "sms", "message": "Still available." }
            ] }
        ],
        "simulation_params": { "seed": 5, "iterations": 2 }
    });
    let results = run(&app, "/api/v1/simulations/intervention", &body).await;
    // 4 personas × (3 + 4 touches) × 2 iterations.
    assert_eq!(
        results["results"]["raw_responses"]
            .as_array()
            .unwrap()
            .len(),
        56
    );
    let variants = insights(&results, "variant");
    let patient = variants.iter().find(|v| v["variant"] == "Patient").unwrap();
    let rapid = variants.iter().find(|v| v["variant"] == "Rapid").unwrap();
    assert_eq!(rapid["touches"].as_array().unwrap().len(), 4);
    assert!(rate(patient, "expected_response_rate") > rate(rapid, "expected_response_rate"));
    assert!(
        rapid["final_annoyance"].as_f64().unwrap() > patient["final_annoyance"].as_f64().unwrap(),
        "contacts a day apart tire the client: {rapid} vs {patient}"
    );
    let recommendations = results["results"]["recommendations"].to_string();
    assert!(recommendations.contains("Patient"), "{recommendations}");
    assert!(recommendations.contains("\"timing\""), "{recommendations}");
}

async fn an_individual_simulation_answers_in_one_call(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let persona_id = app
        .create_persona(&persona(
            "Ada",
            "finance",
            &["wine cellar", "home theater"],
            &["golf course"],
            30e6,
        ))
        .await["id"]
        .clone();
    let body = json!({
        "persona_id": persona_id,
        "scenario": { "type": "property_viewing", "context": {
            "property": "Ridgeline Estate", "price": 24000000,
            "shown": "the wine cellar, the great room and the golf course view" } },
        "enrichment_data": { "internal_notes": "Collects Burgundy; dislikes crowds." }
    });
    let results = run(&app, "/api/v1/simulations/individual", &body).await;
    assert_eq!(results["metadata"]["llm_calls"], 1);
    let outcome = insights(&results, "outcome")[0];
    assert_eq!(outcome["scenario"], "property_viewing");
    let distribution: f64 = outcome["interest_distribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap())
        .sum();
    assert!((distribution - 1.0).abs() < 0.02, "{outcome}");
    // The golf course is a deal-breaker the mock persona voices; the theater goes unmentioned.
    assert!(
        outcome["objections"].to_string().contains("golf course"),
        "{outcome}"
    );
    assert!(
        outcome["questions"].to_string().contains("home theater"),
        "{outcome}"
    );
    assert!(!outcome["likely_next_step"].as_str().unwrap().is_empty());
}

async fn a_segment_s_synthetic_personas_are_made_once_per_seed(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let property_id = app.create_property(&crate::helpers::listing()).await["id"].clone();
    let segment = app
        .post(
            "/api/v1/segments",
            &json!({
                "name": "ski_families",
                "description": "Families who ski every season",
                "attributes": {
                    "occupations": [{ "value": "surgeon", "weight": 1 }, { "value": "founder", "weight": 1 }],
                    "features": [{ "value": "ski room", "weight": 0.9 }, { "value": "heated pool", "weight": 0.5 }],
                    "deal_breakers": [{ "value": "golf course", "weight": 0.2 }],
                    "budget_max": { "min": 15000000, "max": 40000000 },
                    "openness": { "min": 0.3, "max": 0.9 }
                }
            }),
        )
        .await;
    assert_eq!(segment.status, 201, "{}", segment.body);
    let listed = app.get("/api/v1/segments").await.body;
    assert_eq!(listed[0]["name"], "ski_families");
    let duplicate = app
        .post("/api/v1/segments", &json!({ "name": "ski_families" }))
        .await;
    duplicate.problem(409);

    let body = json!({
        "property_id": property_id,
        "persona_segments": ["ski_families"],
        "questions": ["Would you buy it?"],
        "modifications_to_test": [],
        "simulation_params": { "num_agents": 4, "seed": 9 }
    });
    let first = run(&app, "/api/v1/simulations/focus-group", &body).await;
    // Four sketches, then four answers.
    assert_eq!(first["metadata"]["llm_calls"], 8);
    let personas = app
        .get("/api/v1/personas?segment=ski_families&synthetic=true")
        .await
        .body;
    let items = personas["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{personas}");
    assert!(
        items
            .iter()
            .all(|p| p["synthetic"] == true && p["biography"].is_string())
    );
    let occupations: std::collections::BTreeSet<&str> = items
        .iter()
        .map(|p| p["demographics"]["occupation"].as_str().unwrap())
        .collect();
    assert_eq!(occupations.len(), 2, "stratified: both occupations drawn");

    let again = run(&app, "/api/v1/simulations/focus-group", &body).await;
    assert_eq!(
        again["metadata"]["llm_calls"], 0,
        "same seed: stored personas, cached answers"
    );
    assert_eq!(first["results"], again["results"]);
    let count = app
        .get("/api/v1/personas?segment=ski_families&synthetic=true")
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(count, 4, "no new personas for the same seed");
}

async fn discussion_rounds_follow_the_questions(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let property_id = seed(&app).await;
    let body = json!({
        "property_id": property_id,
        "persona_segments": ["finance", "tech"],
        "questions": ["First impression?"],
        "discussion_rounds": 1,
        "modifications_to_test": ["Add a wellness spa"],
        "simulation_params": { "seed": 2 }
    });
    let results = run(&app, "/api/v1/simulations/focus-group", &body).await;
    let steps: Vec<&str> = results["results"]["raw_responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps.len(), 12);
    assert_eq!(steps.iter().filter(|s| **s == "discussion 1").count(), 4);
    // Rounds run in order: every question answer before any discussion, then the modification.
    assert_eq!(&steps[..4], ["question 1"; 4]);
    assert_eq!(&steps[8..], ["modification 1"; 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_model_runs_every_kind() {
    let options = Options {
        vars: vec![("TROUPE_LLM_PROVIDER", "offline".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(Shape::Embedded, options).await;
    seed(&app).await;
    let persona_id = app.get("/api/v1/personas").await.body["items"][0]["id"].clone();
    let marketing = json!({ "persona_segments": ["finance"], "channels": ["email"],
        "materials": [{ "name": "A", "body": "A wine cellar." }] });
    let intervention = json!({ "persona_segments": ["tech"],
        "variants": [{ "name": "A", "touches": [{ "day": 0, "channel": "email", "message": "Hello" }] }] });
    let individual = json!({ "persona_id": persona_id,
        "scenario": { "type": "call", "context": { "purpose": "introduce a listing with a wine cellar" } } });
    for (path, body, kind) in [
        ("marketing", marketing, "engagement"),
        ("intervention", intervention, "variant"),
        ("individual", individual, "outcome"),
    ] {
        let results = run(&app, &format!("/api/v1/simulations/{path}"), &body).await;
        assert_eq!(results["metadata"]["provider"], "offline");
        assert!(!insights(&results, kind).is_empty(), "{results}");
    }
    assert_eq!(app.mock.stats().requests, 0);
}

/// A material every client objects to gets a rewritten subject and opening line that lead with
/// what the panel wants, by the model or (labelled) by the offline model; never the objection
/// echoed back.
async fn message_advice_is_rewritten_copy_not_an_echo(shape: Shape) {
    let body = json!({
        "persona_segments": ["coastal"], "channels": ["email"],
        "materials": [{ "name": "Drive", "subject": "A gated home",
                        "body": "Reached by a shared driveway, close to town." }],
        "simulation_params": { "seed": 5 }
    });
    for offline in [false, true] {
        let vars = if offline {
            vec![("TROUPE_LLM_PROVIDER", "offline".into())]
        } else {
            Vec::new()
        };
        let app = TestApp::spawn_with(
            shape,
            Options {
                vars,
                ..Options::default()
            },
        )
        .await;
        for name in ["Ada", "Ben", "Cy"] {
            app.create_persona(&persona(
                name,
                "coastal",
                &["ocean views", "wine cellar"],
                &["shared driveway"],
                30e6,
            ))
            .await;
        }
        let results = run(&app, "/api/v1/simulations/marketing", &body).await;
        let advice: Vec<&Value> = results["results"]["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["kind"] == "message" && r["title"].as_str().unwrap().starts_with("Rewrite")
            })
            .collect();
        assert_eq!(advice.len(), 1, "{}", results["results"]["recommendations"]);
        let (title, detail) = (
            advice[0]["title"].as_str().unwrap(),
            advice[0]["detail"].as_str().unwrap(),
        );
        assert!(title.starts_with("Rewrite \"Drive\": \""), "{title}");
        assert!(
            detail.contains("Open with: \"") && detail.contains("\", raised in 100% of exposures"),
            "{detail}"
        );
        assert!(
            detail.contains("ocean views"),
            "the panel's wants: {detail}"
        );
        let echoed = results["results"]["recommendations"].to_string();
        assert!(
            !echoed.contains("Answer \\\"shared driveway"),
            "no echo: {echoed}"
        );
        if offline {
            assert!(detail.contains("Written by the offline model"), "{detail}");
            assert!(
                title.contains("Ocean views and wine cellar: A gated home"),
                "{title}"
            );
        } else {
            assert!(detail.contains("Written by the model"), "{detail}");
            // Three exposures and one rewrite.
            assert_eq!(
                results["metadata"]["llm_calls"], 4,
                "{}",
                results["metadata"]
            );
        }
    }
}
