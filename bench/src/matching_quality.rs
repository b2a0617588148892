//! Matching quality against our own judgements (`bench/data/matching-quality`): eight clients,
//! twenty-five listings, all 200 pairs judged match, near miss, no match or poor fit. Loads them
//! into the embedded shape with the offline scorer, matches every client against the listings
//! and every listing against the clients (the API's defaults: limit 10, min_score 0.3), and
//! pools both directions:
//!
//! - precision@10: of the recommendations, the share we judged a match;
//! - recall@10: of the pairs we judged a match, the share recommended;
//! - near-miss recall: of the pairs we judged a near miss, the share the run lists as one;
//! - condition violations: recommendations we judged to break a condition (must be 0).
//!
//! Runs twice — with the hashing vectorizer, then with all-MiniLM-L6-v2 when
//! `TROUPE_EMBEDDING_MODEL_DIR` (or `models/all-MiniLM-L6-v2`) holds it — and lists every pair
//! where the matcher and we disagree, with our reason.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
};

use anyhow::Context;
use serde_json::{Value, json};
use troupe::client::ApiClient;
use troupe_bench::{Deployment, Scratch};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/matching-quality");

/// (client key, listing key) → (verdict, reason).
type Judgements = HashMap<(String, String), (String, String)>;

/// Matching's two directions: each pair is asked about twice.
const DIRECTIONS: [&str; 2] = ["client-to-properties", "property-to-clients"];

/// What the runs returned, as (direction, client key, listing key).
#[derive(Default)]
struct Returned {
    recommended: HashSet<(&'static str, String, String)>,
    near_misses: HashSet<(&'static str, String, String)>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let judgements = read_judgements()?;
    let clients: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{DATA}/clients.json"))?)?;
    let listings: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{DATA}/listings.json"))?)?;
    anyhow::ensure!(
        judgements.len() == clients.len() * listings.len(),
        "every pair is judged"
    );
    println!(
        "matching quality: {} clients × {} listings, {} pairs judged, embedded shape, offline scorer",
        clients.len(),
        listings.len(),
        judgements.len()
    );
    let model = model_dir();
    let mut embedders = vec![("hashing", None)];
    match &model {
        Some(dir) => embedders.push(("all-MiniLM-L6-v2", Some(dir.clone()))),
        None => println!("(no model in models/all-MiniLM-L6-v2: scripts/fetch-embedding-model.sh)"),
    }
    for (label, dir) in embedders {
        let returned = run(&clients, &listings, dir.as_deref()).await?;
        report(label, &judgements, &returned);
    }
    Ok(())
}

fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TROUPE_EMBEDDING_MODEL_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2"),
        PathBuf::from,
    );
    dir.join("model.safetensors").is_file().then_some(dir)
}

fn read_judgements() -> anyhow::Result<Judgements> {
    let text = std::fs::read_to_string(format!("{DATA}/judgements.tsv"))?;
    text.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.splitn(4, '\t').collect();
            let [client, listing, verdict, reason] = fields[..] else {
                anyhow::bail!("a judgement needs four fields: {line}");
            };
            anyhow::ensure!(
                ["match", "near_miss", "no_match", "poor_fit"].contains(&verdict),
                "unknown verdict {verdict:?}"
            );
            Ok((
                (client.to_owned(), listing.to_owned()),
                (verdict.to_owned(), reason.to_owned()),
            ))
        })
        .collect()
}

/// Loads the set into a fresh embedded deployment and matches in both directions.
async fn run(
    clients: &[Value],
    listings: &[Value],
    model: Option<&Path>,
) -> anyhow::Result<Returned> {
    let scratch = Scratch::embedded()?;
    let mut settings = vec![
        ("TROUPE_BIND", "127.0.0.1:0".to_owned()),
        ("TROUPE_LOG", "error".to_owned()),
        ("TROUPE_LLM_PROVIDER", "offline".to_owned()),
        ("TROUPE_MATCHING_CRON", "0 0 0 1 1 * 2099".to_owned()),
    ];
    if let Some(dir) = model {
        settings.push(("TROUPE_EMBEDDING_MODEL_DIR", dir.display().to_string()));
    }
    let deployment = Deployment::start(scratch.vars_with(settings), None).await?;
    let api = deployment.api.clone();
    // The set's keys by the ids the API gave.
    let mut key_of: HashMap<String, String> = HashMap::new();
    let listing_ids = create_all(&api, "/api/v1/properties", listings, &mut key_of).await?;
    let client_ids = create_all(&api, "/api/v1/personas", clients, &mut key_of).await?;
    let mut returned = Returned::default();
    for id in &client_ids {
        let reply = matched(&api, DIRECTIONS[0], json!({ "persona_id": id })).await?;
        collect(&reply, DIRECTIONS[0], &key_of, &mut returned)?;
    }
    for id in &listing_ids {
        let reply = matched(&api, DIRECTIONS[1], json!({ "property_id": id })).await?;
        collect(&reply, DIRECTIONS[1], &key_of, &mut returned)?;
    }
    deployment.stop();
    Ok(returned)
}

/// Creates the set's clients or listings (each entry's `key` is ours, not the API's), noting
/// each one's key by its id; the ids in the set's order.
async fn create_all(
    api: &ApiClient,
    path: &str,
    entries: &[Value],
    key_of: &mut HashMap<String, String>,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut body = entry.clone();
        let key = body.as_object_mut().context("an object")?.remove("key");
        let key = key
            .as_ref()
            .and_then(Value::as_str)
            .context("a key")?
            .to_owned();
        let created = api.post(path, &body).await?;
        let id = created["id"]
            .as_str()
            .with_context(|| format!("{created}"))?;
        key_of.insert(id.to_owned(), key);
        ids.push(id.to_owned());
    }
    Ok(ids)
}

async fn matched(api: &ApiClient, direction: &str, body: Value) -> anyhow::Result<Value> {
    let accepted = api
        .post(&format!("/api/v1/matching/{direction}"), &body)
        .await?;
    let url = accepted["recommendations_url"]
        .as_str()
        .with_context(|| format!("{accepted}"))?
        .to_owned();
    loop {
        let reply = api.get(&url).await?;
        match reply["run"]["status"].as_str() {
            Some("completed") => return Ok(reply),
            Some("failed") => anyhow::bail!("match run failed: {}", reply["run"]),
            _ => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

fn collect(
    reply: &Value,
    direction: &'static str,
    key_of: &HashMap<String, String>,
    returned: &mut Returned,
) -> anyhow::Result<()> {
    for (field, into) in [
        ("recommendations", &mut returned.recommended),
        ("near_misses", &mut returned.near_misses),
    ] {
        for pair in reply[field].as_array().into_iter().flatten() {
            let key = |id: &str| -> anyhow::Result<String> {
                let id = pair[id]
                    .as_str()
                    .with_context(|| format!("{id} in {pair}"))?;
                key_of.get(id).cloned().context("an id of the set")
            };
            into.insert((direction, key("persona_id")?, key("property_id")?));
        }
    }
    Ok(())
}

fn report(label: &str, judgements: &Judgements, returned: &Returned) {
    let verdict = |(_, client, listing): &(&str, String, String)| {
        judgements[&(client.clone(), listing.clone())].0.as_str()
    };
    // Each judged pair is asked about once per direction.
    let judged = |v: &str| {
        DIRECTIONS.len()
            * judgements
                .values()
                .filter(|(verdict, _)| verdict == v)
                .count()
    };
    let recommended_matches = returned
        .recommended
        .iter()
        .filter(|p| verdict(p) == "match")
        .count();
    let violations = returned
        .recommended
        .iter()
        .filter(|p| matches!(verdict(p), "near_miss" | "no_match"))
        .count();
    let listed_near = returned
        .near_misses
        .iter()
        .filter(|p| verdict(p) == "near_miss")
        .count();
    let ratio = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    println!("\n{label} (both directions pooled):");
    println!(
        "  precision@10 {:.3} ({recommended_matches} of {} recommendations are matches)",
        ratio(recommended_matches, returned.recommended.len()),
        returned.recommended.len()
    );
    println!(
        "  recall@10 {:.3} ({recommended_matches} of {} matches recommended)",
        ratio(recommended_matches, judged("match")),
        judged("match")
    );
    println!(
        "  near-miss recall {:.3} ({listed_near} of {} near misses listed as such)",
        ratio(listed_near, judged("near_miss")),
        judged("near_miss")
    );
    println!("  condition violations {violations}");
    let mut disagreements = Vec::new();
    for direction in DIRECTIONS {
        for ((client, listing), (verdict, reason)) in judgements {
            let asked = (direction, client.clone(), listing.clone());
            let said = if returned.recommended.contains(&asked) {
                "recommended"
            } else if returned.near_misses.contains(&asked) {
                "near miss"
            } else {
                "left out"
            };
            let agrees = matches!(
                (verdict.as_str(), said),
                ("match", "recommended")
                    | ("near_miss", "near miss")
                    | ("no_match" | "poor_fit", "left out")
                    | ("no_match", "near miss")
            );
            if !agrees {
                disagreements.push(format!(
                    "    {client} × {listing} ({direction}): {said}; we judged {verdict}: {reason}"
                ));
            }
        }
    }
    disagreements.sort();
    println!("  disagreements {}:", disagreements.len());
    for line in disagreements {
        println!("{line}");
    }
}
