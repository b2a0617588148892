//! Matching at brokerage scale, in the embedded shape with the offline scorer: a seeded
//! generator writes 20,000 clients and 2,000 listings whose text varies, planting for each
//! listing ten clients whose preferences were drawn from it (its city, type, a few of its
//! features, a budget above its price, deal-breakers it does not have). Then it reports:
//!
//! - one listing against every client, and one client against every listing (the run's own
//!   created → completed time; the first of each also computes and stores the embeddings);
//! - the full nightly run, and an incremental one after 1% of clients and listings change (both
//!   created as the schedule does and run by the worker, whose prepared clients stay warm), as
//!   the ratio incremental ÷ full (and the pairs each scored);
//! - the offline scorer's recall@10 and nDCG@10 against the planted clients, over a sample of
//!   listings.
//!
//! Ends with `matching <measure>=<value>` lines. `BENCH_CLIENTS`, `BENCH_LISTINGS` and
//! `BENCH_QUALITY_SAMPLE` scale it down; `TROUPE_EMBEDDING_MODEL_DIR` embeds with a model.

use std::{collections::HashMap, time::Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use reqwest::Method;
use serde_json::{Value, json};
use troupe::client::ApiClient;
use troupe_bench::{Deployment, Scratch, quantile};
use troupe_shared::Config;

const PLANTED_PER_LISTING: usize = 10;
const SEED: u64 = 20_261_125;

const CITIES: &[(&str, &str)] = &[
    ("Malibu", "California"),
    ("Aspen", "Colorado"),
    ("Palm Beach", "Florida"),
    ("East Hampton", "New York"),
    ("Beverly Hills", "California"),
    ("Jackson", "Wyoming"),
    ("Miami Beach", "Florida"),
    ("Greenwich", "Connecticut"),
    ("Nantucket", "Massachusetts"),
    ("Montecito", "California"),
    ("Napa", "California"),
    ("Park City", "Utah"),
    ("Telluride", "Colorado"),
    ("Manhattan", "New York"),
    ("Atherton", "California"),
    ("Austin", "Texas"),
    ("Naples", "Florida"),
    ("Carmel", "California"),
    ("Vail", "Colorado"),
    ("Sun Valley", "Idaho"),
];
const TYPES: &[&str] = &[
    "estate",
    "villa",
    "penthouse",
    "ranch",
    "chalet",
    "townhouse",
    "beach house",
];
const FEATURES: &[&str] = &[
    "wine cellar",
    "infinity pool",
    "ocean views",
    "home theater",
    "tennis court",
    "guest house",
    "ski room",
    "helipad",
    "equestrian stables",
    "boat dock",
    "spa",
    "fitness studio",
    "library",
    "art gallery",
    "smart home system",
    "gated entry",
    "chef's kitchen",
    "rooftop terrace",
    "private elevator",
    "greenhouse",
    "vineyard",
    "golf course access",
    "sauna",
    "steam room",
    "panic room",
    "staff quarters",
    "car gallery",
    "recording studio",
    "bowling alley",
    "indoor basketball court",
    "koi pond",
    "orchard",
    "meditation garden",
    "observatory",
    "cigar lounge",
    "climbing wall",
    "lap pool",
    "outdoor kitchen",
    "fire pit",
    "mountain views",
    "lake frontage",
    "private beach",
    "cabana",
    "wellness suite",
    "billiards room",
    "playroom",
    "dog run",
    "putting green",
    "hot tub",
    "skylights",
];
const OPENERS: &[&str] = &[
    "A rare offering",
    "Set behind mature hedges",
    "Designed by an award-winning architect",
    "Freshly renovated",
    "A landmark residence",
    "Quietly positioned",
    "An entertainer's dream",
    "Light-filled and serene",
];
const FLOURISHES: &[&str] = &[
    "with walls of glass",
    "finished in limestone and oak",
    "on a private lane",
    "minutes from the village",
    "framed by old-growth trees",
    "with sweeping lawns",
    "in a coveted enclave",
    "with museum-quality finishes",
];
const STYLES: &[&str] = &["decisive", "analytical", "deliberate", "consensus-seeking"];
const CHANNELS: &[&str] = &[
    "email",
    "text messages",
    "phone calls",
    "in-person meetings",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Listing {
    body: Value,
    city: usize,
    kind: usize,
    features: Vec<&'static str>,
    price: f64,
}

fn listing(rng: &mut StdRng, i: usize) -> Listing {
    let city = rng.random_range(0..CITIES.len());
    let kind = rng.random_range(0..TYPES.len());
    let price = (rng.random_range(5e6f64.ln()..80e6f64.ln())).exp().round();
    let count = rng.random_range(6..=10);
    let features: Vec<&'static str> = FEATURES.choose_multiple(rng, count).copied().collect();
    let (name, region) = CITIES[city];
    let description = format!(
        "{} {} in {name}, {}. The {} opens onto {}, and the grounds include {}.",
        OPENERS.choose(rng).unwrap(),
        TYPES[kind],
        FLOURISHES.choose(rng).unwrap(),
        features[0],
        features[1],
        features[2..].join(", "),
    );
    let photos: Vec<Value> = features
        .iter()
        .take(3)
        .enumerate()
        .map(|(p, f)| json!({ "url": format!("https://photos.example/{i}/{p}.jpg"), "description": format!("The {f} at dusk") }))
        .collect();
    Listing {
        body: json!({
            "listing_id": format!("BENCH-{i:05}"),
            "title": format!("{} {} No. {i}", name, TYPES[kind]),
            "description": description,
            "price": price,
            "property_type": TYPES[kind],
            "location": { "city": name, "region": region, "country": "USA" },
            "features": features,
            "photos": photos,
            "bedrooms": rng.random_range(4..12),
        }),
        city,
        kind,
        features,
        price,
    }
}

/// A client planted for `target` (its preferences drawn from it), or a random one.
fn client(rng: &mut StdRng, n: usize, target: Option<&Listing>) -> Value {
    let (city, kind, wanted, budget, breakers) = match target {
        Some(l) => {
            let count = rng.random_range(3..=4);
            let wanted: Vec<&str> = l.features.choose_multiple(rng, count).copied().collect();
            let absent: Vec<&str> = FEATURES
                .iter()
                .copied()
                .filter(|f| !l.features.contains(f))
                .collect();
            let breakers: Vec<&str> = absent.choose_multiple(rng, 2).copied().collect();
            let budget = l.price * rng.random_range(1.05..1.5);
            (l.city, l.kind, wanted, budget, breakers)
        }
        None => {
            let count = rng.random_range(3..=4);
            let wanted: Vec<&str> = FEATURES.choose_multiple(rng, count).copied().collect();
            let breakers: Vec<&str> = FEATURES
                .choose_multiple(rng, 2)
                .copied()
                .filter(|f| !wanted.contains(f))
                .collect();
            let budget = (rng.random_range(5e6f64.ln()..90e6f64.ln())).exp();
            (
                rng.random_range(0..CITIES.len()),
                rng.random_range(0..TYPES.len()),
                wanted,
                budget,
                breakers,
            )
        }
    };
    let other_city = CITIES.choose(rng).unwrap().0;
    json!({
        "name": format!("Client {n:05}"),
        "visibility": "brokerage",
        "biography": format!("Looking for a {} in {} with {}.", TYPES[kind], CITIES[city].0, wanted.join(" and ")),
        "preferences": {
            "locations": [CITIES[city].0, other_city],
            "property_types": [TYPES[kind]],
            "features": wanted,
            "deal_breakers": breakers,
            "budget": { "max": budget.round() }
        },
        "personality_traits": {
            "decision_style": STYLES.choose(rng).unwrap(),
            "communication_preference": CHANNELS.choose(rng).unwrap()
        },
        "knowledge_graph": { "interests": [FEATURES.choose(rng).unwrap()] }
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let clients_n = env_usize("BENCH_CLIENTS", 20_000);
    let listings_n = env_usize("BENCH_LISTINGS", 2_000);
    let sample = env_usize("BENCH_QUALITY_SAMPLE", 100).min(listings_n);
    println!(
        "matching bench: {clients_n} clients, {listings_n} listings, embedded shape, offline scorer, seed {SEED}"
    );
    let scratch = Scratch::embedded()?;
    let mut vars = scratch.vars.clone();
    for (k, v) in [
        ("TROUPE_BIND", "127.0.0.1:0"),
        ("TROUPE_LOG", "error"),
        ("TROUPE_MATCHING_CRON", "0 0 0 1 1 * 2099"),
        ("TROUPE_MAX_BODY_BYTES", "16777216"),
    ] {
        vars.insert(k.into(), v.into());
    }
    // With TROUPE_EMBEDDING_MODEL_DIR set, the runs embed with that model (the cold run
    // computes every client's vector) instead of the hashing vectorizer.
    if let Ok(dir) = std::env::var("TROUPE_EMBEDDING_MODEL_DIR") {
        println!("embedding with the model in {dir}");
        vars.insert("TROUPE_EMBEDDING_MODEL_DIR".into(), dir);
    }
    // BENCH_LOG=info shows the service's logs (each match run's compute and store times).
    if let Ok(filter) = std::env::var("BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let config = Config::from_vars(vars.clone())?;
    let deployment = Deployment::start(vars, None).await?;
    let api = deployment.api.clone();

    let mut rng = StdRng::seed_from_u64(SEED);
    let listings: Vec<Listing> = (0..listings_n).map(|i| listing(&mut rng, i)).collect();
    let started = Instant::now();
    let mut listing_ids = Vec::with_capacity(listings_n);
    for chunk in listings.chunks(500) {
        let bodies: Vec<Value> = chunk.iter().map(|l| l.body.clone()).collect();
        let report = api
            .post("/api/v1/properties/import", &json!(bodies))
            .await?;
        for row in report["imported"].as_array().context("import report")? {
            listing_ids.push(row["property_id"].as_str().context("id")?.to_owned());
        }
    }
    anyhow::ensure!(listing_ids.len() == listings_n, "every listing imported");
    // Clients n·10 … n·10+9 are planted for listing n while there are listings; the rest random.
    let bodies: Vec<Value> = (0..clients_n)
        .map(|n| client(&mut rng, n, listings.get(n / PLANTED_PER_LISTING)))
        .collect();
    let client_ids: Vec<String> = stream::iter(bodies.iter())
        .map(|body| api.post("/api/v1/personas", body))
        .buffered(8)
        .map(|reply| reply.map(|r| r["id"].as_str().unwrap_or_default().to_owned()))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    println!("seeded in {:.1} s", started.elapsed().as_secs_f64());

    let one_listing = |i: usize, limit: u32| json!({ "property_id": listing_ids[i], "limit": limit, "min_score": 0 });
    let (cold_p2c, _) = timed_match(&api, "property-to-clients", &one_listing(0, 10)).await?;
    let (warm_p2c, _) = timed_match(&api, "property-to-clients", &one_listing(1, 10)).await?;
    let c2p = json!({ "persona_id": client_ids[0], "limit": 10, "min_score": 0 });
    let (c2p_time, _) = timed_match(&api, "client-to-properties", &c2p).await?;
    println!(
        "one listing × {clients_n} clients: {cold_p2c:.3} s with embeddings computed, {warm_p2c:.3} s warm"
    );
    println!("one client × {listings_n} listings: {c2p_time:.3} s");

    // Nightly runs go through the schedule's own path: created for a slot, run by the worker.
    let (store, queues) = troupe::connect(&config).await?;
    let brokerage = store
        .brokerage_id("Bench")
        .await?
        .context("the bench brokerage")?;
    let nightly = || async {
        let slot = Utc::now();
        let runs =
            troupe_scheduler::schedule_nightly(&store, &queues, &config, slot, Some(&[brokerage]))
                .await?;
        let run = runs.first().context("a nightly run was created")?;
        wait_for_run(&api, &run.to_string()).await
    };
    let (full_s, full_pairs) = nightly().await?;
    println!("full nightly run: {full_s:.2} s, {full_pairs} pairs scored");
    let changed_clients = clients_n / 100;
    let changed_listings = listings_n / 100;
    for (i, id) in client_ids
        .iter()
        .enumerate()
        .step_by(100)
        .take(changed_clients)
    {
        let mut body = bodies[i].clone();
        body["biography"] = json!(format!(
            "{} Now also open to a second home.",
            body["biography"].as_str().unwrap_or_default()
        ));
        api.call(Method::PUT, &format!("/api/v1/personas/{id}"), Some(&body))
            .await?;
    }
    for (i, id) in listing_ids
        .iter()
        .enumerate()
        .step_by(100)
        .take(changed_listings)
    {
        let mut body = listings[i].body.clone();
        body["price"] = json!(listings[i].price * 0.95);
        api.call(
            Method::PUT,
            &format!("/api/v1/properties/{id}"),
            Some(&body),
        )
        .await?;
    }
    let (incremental_s, incremental_pairs) = nightly().await?;
    println!(
        "incremental nightly run after {changed_clients} clients and {changed_listings} listings changed: {incremental_s:.2} s, {incremental_pairs} pairs scored"
    );

    // Quality against the planted clients, over an evenly spaced sample of listings.
    let (mut recall, mut ndcg, mut times) = (0.0, 0.0, Vec::new());
    let index_of: HashMap<&str, usize> = client_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let step = (listings_n / sample.max(1)).max(1);
    let mut judged = 0;
    for i in (0..listings_n).step_by(step).take(sample) {
        let planted = |id: &str| {
            index_of
                .get(id)
                .is_some_and(|&n| n / PLANTED_PER_LISTING == i)
        };
        let relevant = (0..clients_n)
            .filter(|n| n / PLANTED_PER_LISTING == i)
            .count()
            .min(10);
        if relevant == 0 {
            continue;
        }
        let (seconds, recs) = timed_match(&api, "property-to-clients", &one_listing(i, 10)).await?;
        times.push(seconds);
        let ranked: Vec<bool> = recs
            .iter()
            .map(|r| planted(r["persona_id"].as_str().unwrap_or_default()))
            .collect();
        recall += ranked.iter().filter(|&&hit| hit).count() as f64 / relevant as f64;
        let dcg: f64 = ranked
            .iter()
            .enumerate()
            .filter(|(_, hit)| **hit)
            .map(|(rank, _)| 1.0 / (rank as f64 + 2.0).log2())
            .sum();
        let ideal: f64 = (0..relevant)
            .map(|rank| 1.0 / (rank as f64 + 2.0).log2())
            .sum();
        ndcg += dcg / ideal;
        judged += 1;
    }
    let judged = judged.max(1) as f64;
    let p95 = quantile(&mut times, 0.95);
    println!(
        "quality over {judged} listings: recall@10 {:.3}, nDCG@10 {:.3}; one listing × {clients_n} clients p95 {p95:.3} s",
        recall / judged,
        ndcg / judged
    );

    println!("matching property_to_clients_s={warm_p2c:.3}");
    println!("matching property_to_clients_p95_s={p95:.3}");
    println!("matching property_to_clients_cold_s={cold_p2c:.3}");
    println!("matching client_to_properties_s={c2p_time:.3}");
    println!("matching full_nightly_s={full_s:.2}");
    println!("matching incremental_nightly_s={incremental_s:.2}");
    println!(
        "matching incremental_over_full={:.3}",
        incremental_s / full_s
    );
    println!("matching recall_at_10={:.3}", recall / judged);
    println!("matching ndcg_at_10={:.3}", ndcg / judged);
    deployment.stop();
    Ok(())
}

/// Waits for a match run; returns its own duration (created → completed) and pairs scored.
async fn wait_for_run(api: &ApiClient, id: &str) -> anyhow::Result<(f64, i64)> {
    loop {
        let run = api.get(&format!("/api/v1/matching/{id}")).await?;
        match run["status"].as_str() {
            Some("completed") => {
                return Ok((
                    run_seconds(&run)?,
                    run["pairs_scored"].as_i64().unwrap_or(0),
                ));
            }
            Some("failed") => anyhow::bail!("match run failed: {run}"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

fn run_seconds(run: &Value) -> anyhow::Result<f64> {
    let at = |field: &str| -> anyhow::Result<DateTime<Utc>> {
        Ok(run[field].as_str().context("timestamp")?.parse()?)
    };
    Ok((at("completed_at")? - at("created_at")?).as_seconds_f64())
}

/// Submits a match, waits for it, and returns the run's own duration and its recommendations.
async fn timed_match(
    api: &ApiClient,
    path: &str,
    body: &Value,
) -> anyhow::Result<(f64, Vec<Value>)> {
    let accepted = api.post(&format!("/api/v1/matching/{path}"), body).await?;
    let url = accepted["recommendations_url"]
        .as_str()
        .context("recommendations url")?
        .to_owned();
    loop {
        let reply = api.get(&url).await?;
        match reply["run"]["status"].as_str() {
            Some("completed") => {
                let at = |field: &str| -> anyhow::Result<DateTime<Utc>> {
                    Ok(reply["run"][field].as_str().context("timestamp")?.parse()?)
                };
                let seconds = (at("completed_at")? - at("created_at")?).as_seconds_f64();
                let recs = reply["recommendations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                return Ok((seconds, recs));
            }
            Some("failed") => anyhow::bail!("match run failed: {}", reply["run"]),
            _ => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}
