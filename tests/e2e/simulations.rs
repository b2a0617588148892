//! Focus groups from submission to results.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Options, Shape, TestApp, both_shapes, seed};

both_shapes!(
    a_focus_group_runs_to_results,
    a_repeated_submission_with_the_same_key_runs_once
);

async fn a_focus_group_runs_to_results(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let property_id = seed(&app).await;
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({
                "property_id": property_id,
                "persona_segments": ["finance", "tech"],
                "questions": ["First impression?", "Would you buy at this price?"],
                "simulation_params": { "num_agents": 4, "iterations": 2, "seed": 7 }
            }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let location = accepted.headers["location"].to_str().unwrap().to_owned();
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/simulations/{id}/status"));

    let status = app.wait_for_final(&id, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "completed", "{status}");
    // 4 personas × (2 questions + 2 modifications, one round each) × 2 iterations.
    assert_eq!(status["progress"]["done"], 32);
    assert_eq!(status["progress"]["total"], 32);

    let results = app
        .get(accepted.body["results_url"].as_str().unwrap())
        .await;
    assert_eq!(results.status, 200);
    let body = &results.body;
    // The outbox announced the completion, in the transaction that stored the results.
    let events = app.events().await;
    let completed: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "simulation.completed")
        .collect();
    assert_eq!(completed.len(), 1, "{events:?}");
    assert_eq!(completed[0].subject_id.to_string(), id);
    assert_eq!(completed[0].payload["summary"], body["results"]["summary"]);
    let r = &body["results"];
    // Each step answered through the mock over HTTP.
    assert_eq!(r["raw_responses"].as_array().unwrap().len(), 32);
    let insights = |kind: &str| -> Vec<serde_json::Value> {
        r["detailed_insights"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == kind)
            .cloned()
            .collect()
    };
    let segments: Vec<String> = insights("segment")
        .iter()
        .map(|s| s["segment"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(segments, ["finance", "tech"]);
    for insight in insights("segment") {
        let intent = insight["mean_intent"].as_f64().unwrap();
        assert!((1.0..=5.0).contains(&intent), "{insight}");
        let [low, high] = [
            insight["intent_ci95"][0].as_f64().unwrap(),
            insight["intent_ci95"][1].as_f64().unwrap(),
        ];
        assert!(low <= intent && intent <= high, "{insight}");
        assert_eq!(
            insight["modification_effects"].as_array().unwrap().len(),
            2,
            "{insight}"
        );
    }
    let distribution: f64 = insight_sum(&insights("segment")[0]["intent_distribution"]);
    assert!((distribution - 1.0).abs() < 0.02, "a distribution over 1–5");
    // Both photos rated and ranked.
    let photos = insights("photo");
    assert_eq!(photos.len(), 2);
    assert_eq!(photos[0]["rank"], 1);
    // Each modification measured against the intent just before it.
    let modifications = insights("modification");
    assert_eq!(modifications.len(), 2, "{modifications:?}");
    for m in &modifications {
        let [low, high] = [
            m["effect_ci95"][0].as_f64().unwrap(),
            m["effect_ci95"][1].as_f64().unwrap(),
        ];
        let effect = m["mean_effect"].as_f64().unwrap();
        assert!(low <= effect && effect <= high, "{m}");
    }
    let pricing = &insights("pricing")[0];
    assert_eq!(pricing["list_price"], 24e6);
    assert!(
        pricing["suggested_price"].as_f64().unwrap() > 0.0,
        "{pricing}"
    );
    // The wine-cellar lovers in finance like the listing's wine cellar.
    let finance_likes = insights("segment")[0]["top_likes"].to_string();
    assert!(finance_likes.contains("wine cellar"), "{finance_likes}");
    assert!(!r["recommendations"].as_array().unwrap().is_empty());
    assert!(r["summary"].as_str().unwrap().contains("4 personas"));
    let metadata = &body["metadata"];
    assert_eq!(metadata["provider"], "openai");
    assert_eq!(metadata["model_version"], "gpt-4o-mini");
    assert_eq!(metadata["llm_calls"], 32);
    assert_eq!(app.mock.stats().completed, 32);
    assert_eq!(
        metadata["tokens_used"].as_u64().unwrap(),
        app.mock.stats().prompt_tokens + app.mock.stats().completion_tokens
    );
    assert_eq!(body["input_params"]["seed"], 7);

    if shape == Shape::Embedded {
        // One process runs every role, so its /metrics has the worker's figures too. (The
        // recorder is per process and tests share it: check presence, not counts.)
        let metrics = app
            .client()
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for series in [
            "troupe_llm_requests_total{operation=\"chat\",outcome=\"ok\"}",
            "troupe_llm_tokens_total{kind=\"prompt\"}",
            "troupe_llm_request_duration_seconds_bucket",
            "troupe_simulations_total{kind=\"focus_group\",outcome=\"completed\"}",
            "troupe_http_requests_total{method=\"POST\",route=\"/api/v1/simulations/focus-group\",status=\"202\"}",
            "troupe_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/simulations/:id/status\"",
            "troupe_queue_depth{queue=\"simulations\"}",
        ] {
            assert!(
                metrics.contains(series),
                "{series} missing from:\n{metrics}"
            );
        }
    }
}

async fn a_repeated_submission_with_the_same_key_runs_once(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let property_id = seed(&app).await;
    let request = json!({ "property_id": property_id, "persona_segments": ["tech"], "questions": ["Would you buy it?"] });
    let submit = |body: serde_json::Value, key: &'static str| {
        let request = app
            .client()
            .post(format!("{}/api/v1/simulations/focus-group", app.base))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", key)
            .json(&body);
        app.raw(request)
    };
    let first = submit(request.clone(), "order-42").await;
    let second = submit(request.clone(), "order-42").await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(second.status, 202, "{}", second.body);
    assert_eq!(first.body["id"], second.body["id"]);

    let mut changed = request.clone();
    changed["questions"] = json!(["Something else?"]);
    let conflict = submit(changed, "order-42").await;
    assert!(conflict.problem(422).ends_with("/idempotency-key-reused"));

    // Retries racing each other (a client timing out and resubmitting, two scheduler
    // replicas) still make one simulation between them.
    let mut racing = request.clone();
    racing["questions"] = json!(["Would you offer on it?"]);
    let replies =
        futures::future::join_all((0..12).map(|_| submit(racing.clone(), "order-43"))).await;
    for reply in &replies {
        assert_eq!(reply.status, 202, "{}", reply.body);
        assert_eq!(reply.body["id"], replies[0].body["id"], "{}", reply.body);
    }
    let listed = app
        .get(&format!("/api/v1/simulations?property_id={property_id}"))
        .await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        listed.body
    );

    for id in [&first.body["id"], &replies[0].body["id"]] {
        let status = app
            .wait_for_final(id.as_str().unwrap(), Duration::from_secs(60))
            .await;
        assert_eq!(status["status"], "completed");
        assert_eq!(status["attempts"], 1);
    }
    // Two runs: two tech personas, one question and the listing's two modifications each.
    assert_eq!(app.mock.stats().completed, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_model_needs_no_provider_and_says_so() {
    let options = Options {
        vars: vec![("TROUPE_LLM_PROVIDER", "offline".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(Shape::Embedded, options).await;
    let property_id = seed(&app).await;
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({ "property_id": property_id, "persona_segments": ["finance", "tech"] }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap();
    assert_eq!(
        app.wait_for_final(id, Duration::from_secs(30)).await["status"],
        "completed"
    );
    let results = app
        .get(&format!("/api/v1/simulations/{id}/results"))
        .await
        .body;
    assert_eq!(results["metadata"]["provider"], "offline");
    assert_eq!(results["metadata"]["llm_calls"], 0);
    assert_eq!(app.mock.stats().requests, 0);
    // Two default questions and the listing's two modifications for each of four personas.
    assert_eq!(
        results["results"]["raw_responses"]
            .as_array()
            .unwrap()
            .len(),
        16
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_s_cleanup_removes_expired_idempotency_keys() {
    // Keys that expire at once: the cleanup has one to remove, and none the second time.
    let options = Options {
        vars: vec![("TROUPE_IDEMPOTENCY_TTL_HOURS", "0".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(Shape::Embedded, options).await;
    let property_id = seed(&app).await;
    let body =
        json!({ "property_id": property_id, "persona_segments": ["tech"], "questions": ["?"] });
    let request = app
        .client()
        .post(format!("{}/api/v1/simulations/focus-group", app.base))
        .bearer_auth(&app.key)
        .header("Idempotency-Key", "nightly-1")
        .json(&body);
    assert_eq!(app.raw(request).await.status, 202);
    let config = troupe_shared::Config::from_vars(app.vars.clone()).unwrap();
    let (store, _) = troupe::connect(&config).await.unwrap();
    let retention = config.event_retention;
    let purged = troupe_scheduler::purge_expired(&store, retention)
        .await
        .unwrap();
    assert_eq!(purged.idempotency_keys, 1);
    assert_eq!(purged.events, 0, "a fresh event is kept");
    let purged = troupe_scheduler::purge_expired(&store, retention)
        .await
        .unwrap();
    assert_eq!(purged.idempotency_keys, 0);
}

fn insight_sum(values: &serde_json::Value) -> f64 {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum()
}
