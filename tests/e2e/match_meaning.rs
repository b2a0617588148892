//! Matching's text similarity: with all-MiniLM-L6-v2 installed (`TROUPE_EMBEDDING_MODEL_DIR`), a
//! client's words are compared with a listing's by meaning, and the explanation names the model;
//! without it, a hashing vectorizer compares shared words and the explanation says so.

use serde_json::{Value, json};

use crate::{
    helpers::{Options, Shape, TestApp, both_shapes},
    matching::matched,
};

both_shapes!(
    the_local_model_reads_meaning_the_words_do_not_share,
    without_a_model_the_explanation_says_words_were_compared
);

/// The model's directory, fetched by `scripts/fetch-embedding-model.sh` (run by
/// `scripts/test.sh`).
pub(crate) fn embedding_model_dir() -> String {
    let dir = std::env::var("TROUPE_EMBEDDING_MODEL_DIR")
        .unwrap_or_else(|_| format!("{}/models/all-MiniLM-L6-v2", env!("CARGO_MANIFEST_DIR")));
    assert!(
        std::path::Path::new(&dir)
            .join("model.safetensors")
            .is_file(),
        "no model in {dir}: run scripts/fetch-embedding-model.sh"
    );
    dir
}

/// A client who says what she wants only in her own words, and two listings alike in
/// everything the rules read (place, price, no features) but their description: one means what
/// she means in other words, the other shares her words and means something else.
async fn seed(app: &TestApp) -> String {
    let client = app
        .post(
            "/api/v1/personas",
            &json!({
                "name": "Marina Shore", "visibility": "brokerage",
                "biography": "Wants a waterfront retreat where she can hear the waves at night",
                "preferences": { "locations": ["Malibu"], "budget": { "max": 40_000_000 } }
            }),
        )
        .await;
    assert_eq!(client.status, 201, "{}", client.body);
    for (title, description) in [
        (
            "Surf House",
            "Oceanfront home steps from the surf, with a deck over the sand",
        ),
        (
            "Vault House",
            "A retreat where collectors can hear themselves think: a night cellar for three thousand bottles",
        ),
    ] {
        let listing = app
            .post(
                "/api/v1/properties",
                &json!({ "title": title, "price": 30_000_000, "description": description,
                         "location": { "city": "Malibu", "region": "California" } }),
            )
            .await;
        assert_eq!(listing.status, 201, "{}", listing.body);
    }
    client.body["id"].as_str().unwrap().to_owned()
}

/// Each recommended listing's text-similarity component: (title, value, detail).
fn similarity(matched: &Value) -> Vec<(String, f64, String)> {
    matched["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let part = r["components"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == "text_similarity")
                .expect("a text_similarity component");
            (
                r["property_title"].as_str().unwrap().to_owned(),
                part["value"].as_f64().unwrap(),
                part["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn match_client(app: &TestApp, client: &str) -> Vec<(String, f64, String)> {
    let matched = matched(
        app,
        "/api/v1/matching/client-to-properties",
        json!({ "persona_id": client, "min_score": 0 }),
    )
    .await;
    let parts = similarity(&matched);
    assert_eq!(
        parts.len(),
        2,
        "both listings pass every constraint: {matched}"
    );
    parts
}

async fn the_local_model_reads_meaning_the_words_do_not_share(shape: Shape) {
    let options = Options {
        vars: vec![
            ("TROUPE_LLM_PROVIDER", "offline".into()),
            ("TROUPE_EMBEDDING_MODEL_DIR", embedding_model_dir()),
        ],
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let client = seed(&app).await;
    let parts = match_client(&app, &client).await;
    let value = |title: &str| parts.iter().find(|p| p.0 == title).unwrap().1;
    assert!(
        value("Surf House") > value("Vault House") + 0.02,
        "the surf is nearer the waves than a cellar is, whatever words they share: {parts:?}"
    );
    assert_eq!(parts[0].0, "Surf House", "{parts:?}");
    for (_, _, detail) in &parts {
        assert_eq!(
            detail,
            "meaning similarity (all-MiniLM-L6-v2, local) of the client's profile and the listing"
        );
    }
    assert_eq!(
        app.mock.stats().requests,
        0,
        "the model runs here, not at a provider"
    );
}

async fn without_a_model_the_explanation_says_words_were_compared(shape: Shape) {
    let options = Options {
        vars: vec![("TROUPE_LLM_PROVIDER", "offline".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let client = seed(&app).await;
    let parts = match_client(&app, &client).await;
    // Words, not meaning: the cellar that shares "retreat", "hear" and "night" with her
    // comes out nearer than the surf.
    assert_eq!(parts[0].0, "Vault House", "{parts:?}");
    for (_, _, detail) in parts {
        assert_eq!(
            detail,
            "shared words and word stems (no embedding model installed) of the client's profile and the listing"
        );
    }
}
