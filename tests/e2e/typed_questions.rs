//! Typed questions: each type asked through the API, answered in its own shape (by the mock
//! model, which reads the reply schema, and by the offline model), aggregated per segment, and
//! every malformed question refused by name.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Options, Shape, TestApp, both_shapes, seed};

both_shapes!(
    every_type_is_answered_in_its_shape_and_aggregated,
    free_text_themes_group_by_meaning_with_a_model,
    the_offline_model_answers_each_type_from_the_persona,
    malformed_questions_are_refused_by_name,
);

const CHOICES: [&str; 3] = ["Wine cellar", "Heated pool", "Ski room"];

fn questions() -> Value {
    json!([
        "What is your first impression?",
        { "text": "Which matters most to you here?", "type": "single_choice", "options": CHOICES },
        { "text": "Which of these would you use?", "type": "multi_choice", "options": CHOICES },
        { "text": "Rank these for a first showing.", "type": "ranking", "options": CHOICES },
        { "text": "Would you book a viewing?", "type": "yes_no" },
        { "text": "How well does it fit your life?", "type": "likert" },
        { "text": "What is the most you would pay?", "type": "numeric", "unit": "USD" },
        { "text": "What one change would make it a must-have?", "type": "free_text" }
    ])
}

/// Runs a focus group with every question type; returns the results body.
async fn run(app: &TestApp) -> Value {
    let property = seed(app).await;
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({ "property_id": property, "persona_segments": ["finance", "tech"],
                     "questions": questions(), "modifications_to_test": [],
                     "simulation_params": { "num_agents": 4, "iterations": 2, "seed": 11 } }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let status = app.wait_for_final(&id, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["progress"]["failed"], 0, "{status}");
    app.get(&format!("/api/v1/simulations/{id}/results"))
        .await
        .body
}

fn question(results: &Value, number: u64) -> &Value {
    results["results"]["detailed_insights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "question" && i["question"] == number)
        .unwrap_or_else(|| panic!("no insight for question {number}: {results}"))
}

fn segment<'a>(insight: &'a Value, name: &str) -> &'a Value {
    insight["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["segment"] == name)
        .unwrap_or_else(|| panic!("no segment {name}: {insight}"))
}

fn share(segment: &Value, option: &str) -> f64 {
    segment["shares"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["option"] == option)
        .and_then(|s| s["share"].as_f64())
        .unwrap_or_else(|| panic!("no share for {option}: {segment}"))
}

/// With all-MiniLM-L6-v2 installed, the worker groups free-text answers by meaning and the
/// results say so; every answer still lands in one theme.
async fn free_text_themes_group_by_meaning_with_a_model(shape: Shape) {
    let options = Options {
        vars: vec![(
            "TROUPE_EMBEDDING_MODEL_DIR",
            crate::match_meaning::embedding_model_dir(),
        )],
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let results = run(&app).await;
    check_shapes(&results);
    for name in ["all", "finance", "tech"] {
        let free_text = segment(question(&results, 8), name);
        assert_eq!(
            free_text["themes_grouped_by"], "meaning (all-MiniLM-L6-v2)",
            "{free_text}"
        );
    }
}

/// What holds for any panel's answers, whoever answered them.
fn check_shapes(results: &Value) {
    let insights: Vec<&Value> = results["results"]["detailed_insights"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "question")
        .collect();
    assert_eq!(insights.len(), 7, "a plain question has no typed insight");
    for insight in &insights {
        let names: Vec<&str> = insight["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["segment"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["all", "finance", "tech"], "{insight}");
        let all = &insight["segments"][0];
        assert_eq!(
            all["respondents"].as_u64().unwrap() + all["unanswered"].as_u64().unwrap(),
            4
        );
        for s in insight["segments"].as_array().unwrap() {
            for share in s["shares"].as_array().unwrap() {
                let (low, mid, high) = (
                    share["ci95"][0].as_f64().unwrap(),
                    share["share"].as_f64().unwrap(),
                    share["ci95"][1].as_f64().unwrap(),
                );
                assert!((0.0..=1.0).contains(&low) && low <= mid && mid <= high && high <= 1.0);
            }
        }
    }
    let sum = |s: &Value| -> f64 {
        s["shares"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["share"].as_f64().unwrap())
            .sum()
    };
    let all = |n: u64| segment(question(results, n), "all");
    assert!(
        (sum(all(2)) - 1.0).abs() < 0.02,
        "one choice each: {}",
        all(2)
    );
    assert!((sum(all(5)) - 1.0).abs() < 0.02, "yes or no: {}", all(5));
    assert!(sum(all(3)) >= 0.98, "at least one option each: {}", all(3));
    let points: Vec<&str> = all(6)["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["option"].as_str().unwrap())
        .collect();
    assert_eq!(
        points,
        ["1", "2", "3", "4", "5"],
        "Likert points stay in scale order"
    );

    // The ranking is in Borda order: mean ranks ascending, Borda points descending.
    let ranks = all(4)["ranks"].as_array().unwrap();
    assert_eq!(ranks.len(), 3);
    let mean_ranks: Vec<f64> = ranks
        .iter()
        .map(|r| r["mean_rank"].as_f64().unwrap())
        .collect();
    assert!(
        mean_ranks.windows(2).all(|w| w[0] <= w[1]),
        "{mean_ranks:?}"
    );
    assert!(
        (mean_ranks.iter().sum::<f64>() - 6.0).abs() < 0.05,
        "ranks 1+2+3: {mean_ranks:?}"
    );
    for q in [2, 4] {
        let order = &question(results, q)["order_effect"];
        assert!(order["first_shown"]["mean"].is_number(), "{order}");
    }
    assert_eq!(question(results, 4)["order_effect"]["without_bias"], 2.0);
    assert_eq!(question(results, 2)["order_effect"]["without_bias"], 0.33);

    let numeric = question(results, 7);
    assert_eq!(numeric["unit"], "USD");
    let p: Vec<f64> = all(7)["percentiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(p.windows(2).all(|w| w[0] <= w[1]) && p[0] > 0.0, "{p:?}");

    let themes = all(8)["themes"].as_array().unwrap();
    assert!(!themes.is_empty());
    let covered: f64 = themes.iter().map(|t| t["share"].as_f64().unwrap()).sum();
    assert!(
        (covered - 1.0).abs() < 0.02,
        "every answer in one theme: {themes:?}"
    );
    assert!(themes.iter().all(|t| {
        let quotes = t["quotes"].as_array().unwrap();
        !quotes.is_empty() && quotes.len() <= 2 && !t["label"].as_str().unwrap().is_empty()
    }));

    // The raw answers carry each typed answer in its question's shape.
    for r in results["results"]["raw_responses"].as_array().unwrap() {
        let round = r["round"].as_u64().unwrap() as usize;
        let typed = &r["judgement"]["typed_answer"];
        match questions()[round]["type"].as_str() {
            Some(kind) => assert_eq!(typed["type"], kind, "{r}"),
            None => assert!(typed.is_null(), "a plain question has no typed answer: {r}"),
        }
    }
    assert_eq!(
        results["input_params"]["questions"],
        questions(),
        "the questions echo as sent"
    );
}

async fn every_type_is_answered_in_its_shape_and_aggregated(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let results = run(&app).await;
    check_shapes(&results);
    assert_eq!(
        segment(question(&results, 8), "all")["themes_grouped_by"],
        "shared words (no embedding model installed)"
    );
    // The mock model picks the option that names what the persona wants: both finance clients
    // want a wine cellar; in tech, one wants the pool and one the ski room.
    let single = question(&results, 2);
    assert_eq!(
        share(segment(single, "finance"), "Wine cellar"),
        1.0,
        "{single}"
    );
    assert_eq!(
        share(segment(single, "tech"), "Heated pool"),
        0.5,
        "{single}"
    );
    assert_eq!(share(segment(single, "tech"), "Ski room"), 0.5, "{single}");
    // Wine cellar leads with 50% of the panel, but four personas cannot separate it from the
    // pool's 25%: the recommendation says so rather than naming a winner.
    let recommendations = results["results"]["recommendations"].as_array().unwrap();
    let on_single = recommendations
        .iter()
        .find(|r| r["kind"] == "question" && r["title"].as_str().unwrap().contains("matters most"))
        .expect("a recommendation on the choice");
    assert!(
        on_single["title"]
            .as_str()
            .unwrap()
            .starts_with("Inconclusive"),
        "{on_single}"
    );
    assert!(
        results["results"]["confidence_scores"]["question:2"].is_number(),
        "{}",
        results["results"]["confidence_scores"]
    );
}

async fn the_offline_model_answers_each_type_from_the_persona(shape: Shape) {
    let options = Options {
        vars: vec![("TROUPE_LLM_PROVIDER", "offline".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let results = run(&app).await;
    assert_eq!(results["metadata"]["provider"], "offline");
    check_shapes(&results);
    let single = question(&results, 2);
    assert_eq!(
        share(segment(single, "finance"), "Wine cellar"),
        1.0,
        "{single}"
    );
    // Everyone answers the price question: what they would pay, or what would change their mind.
    assert_eq!(segment(question(&results, 7), "all")["respondents"], 4);
    // "What one change…" is answered from what the listing lacks for the persona.
    let themes = segment(question(&results, 8), "all")["themes"].to_string();
    assert!(
        themes.contains("ocean view") || themes.contains("gym") || themes.contains("spa"),
        "{themes}"
    );
}

async fn malformed_questions_are_refused_by_name(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let property = seed(&app).await;
    let app = &app;
    let submit = |q: Value| {
        let body = json!({ "property_id": property, "persona_segments": ["finance"],
                           "questions": ["First impression?", q] });
        async move { app.post("/api/v1/simulations/focus-group", &body).await }
    };
    for (question, says) in [
        (
            json!({ "text": "Pick one", "type": "single_choice", "options": ["Only"] }),
            "at least 2 options",
        ),
        (
            json!({ "text": "Rank", "type": "ranking", "options": ["Pool", " pool "] }),
            "given twice",
        ),
        (
            json!({ "text": "Rate", "type": "likert", "options": ["A", "B"] }),
            "takes no options",
        ),
        (
            json!({ "text": "Yes?", "type": "yes_no", "unit": "USD" }),
            "takes no unit",
        ),
        (json!({ "text": " ", "type": "free_text" }), "needs words"),
        (json!(""), "needs words"),
    ] {
        let refused = submit(question.clone()).await;
        refused.problem(422);
        let error = &refused.body["errors"][0];
        assert_eq!(error["pointer"], "/questions/1", "{}", refused.body);
        assert!(
            error["detail"].as_str().unwrap().contains(says),
            "{question}: {}",
            refused.body
        );
    }
    for question in [
        json!({ "text": "Scale?", "type": "scale" }),
        json!({ "text": "Pick", "type": "single_choice", "options": (0..13).map(|i| format!("o{i}")).collect::<Vec<_>>() }),
        json!({ "text": "Pick", "type": "yes_no", "colour": "red" }),
        json!(7),
    ] {
        let refused = submit(question.clone()).await;
        refused.problem(400);
        assert!(
            refused.body["errors"].to_string().contains("/questions/1"),
            "{question}: {}",
            refused.body
        );
    }
    let listed = app.get("/api/v1/simulations").await;
    assert_eq!(listed.body["items"], json!([]), "nothing was queued");
}
