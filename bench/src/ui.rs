//! The web workspace's pages at brokerage scale: 10,000 clients, 2,000 listings and 1,000
//! finished focus groups (embedded shape, offline model). Each page is requested 200 times in a
//! row on one connection with a signed-in session; prints p50 and p95 of the whole request and
//! the bytes of each page, and, as the reference measured in the same run, the same numbers for
//! `/healthz` and for the JSON the API answers for the same results. Ends with lines
//! `page=<name> p50_ms=<x> p95_ms=<y> bytes=<n> p95_over_api_results=<r>`.
//!
//! Seeding goes through the API (clients, listings, 20 focus groups run by the worker); the
//! other 980 finished runs are copies of those 20 rows with new ids, made in SQL — what a page
//! costs depends on how many runs there are and how large a results document is, not on how
//! they were produced. `BENCH_UI_CLIENTS`, `BENCH_UI_LISTINGS`, `BENCH_UI_SIMULATIONS` and
//! `BENCH_UI_REQUESTS` scale it.

use std::{
    str::FromStr,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::{Value, json};
use troupe::client::is_final;
use troupe_bench::{Deployment, Scratch, env_number, post_all, quantile};
use troupe_shared::{Config, auth::Admin, domain::Role};

const RUN_FOR_REAL: usize = 20;
const SEGMENTS: [&str; 4] = ["finance", "tech", "sports", "family_office"];

struct Measured {
    p50_ms: f64,
    p95_ms: f64,
    bytes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let clients = env_number("BENCH_UI_CLIENTS", 10_000);
    let listings = env_number("BENCH_UI_LISTINGS", 2_000);
    let simulations = env_number("BENCH_UI_SIMULATIONS", 1_000).max(RUN_FOR_REAL);
    let requests = env_number("BENCH_UI_REQUESTS", 200);

    let scratch = Scratch::embedded()?;
    let mut vars = scratch.vars.clone();
    vars.insert("TROUPE_LOG".into(), "warn".into());
    vars.insert("TROUPE_BIND".into(), "127.0.0.1:0".into());
    vars.insert("TROUPE_MATCHING_CRON".into(), "0 0 0 1 1 * 2099".into());
    let deployment = Deployment::start(vars.clone(), None).await?;
    let api = &deployment.api;
    let started = Instant::now();

    // Clients and listings through the API, eight requests at a time.
    let personas: Vec<Value> = (0..clients)
        .map(|i| {
            json!({
                "name": format!("Client {i}"),
                "segment": SEGMENTS[i % SEGMENTS.len()],
                "visibility": "brokerage",
                "biography": "Collects wine and contemporary art; prefers privacy.",
                "preferences": {
                    "features": ["wine cellar", "ocean views", "home gym"],
                    "budget": { "max": 20_000_000 + (i % 20) as u64 * 1_000_000 }
                }
            })
        })
        .collect();
    post_all(api, "/api/v1/personas", personas, 8).await?;
    let homes: Vec<Value> = (0..listings)
        .map(|i| {
            let city = ["Malibu", "Aspen", "Palm Beach"][i % 3];
            json!({
                "title": format!("Listing {i}"),
                "description": "An estate with a wine cellar, a heated pool and ocean views.",
                "price": 15_000_000 + (i % 30) as u64 * 1_000_000,
                "location": { "city": city, "country": "USA" },
                "features": ["wine cellar", "heated pool", "ocean views"],
                "photos": [{ "url": "https://example.com/1.jpg", "description": "The great room" }],
                "candidate_modifications": ["Add a wellness spa"]
            })
        })
        .collect();
    let listing_ids = post_all(api, "/api/v1/properties", homes, 8).await?;
    let mut runs = Vec::new();
    for listing in listing_ids.iter().take(RUN_FOR_REAL) {
        let accepted = api
            .post(
                "/api/v1/simulations/focus-group",
                &json!({
                    "property_id": listing,
                    "persona_segments": ["finance", "tech"],
                    "questions": ["First impression?", "Would you buy it at the asking price?"],
                    "simulation_params": { "num_agents": 12, "iterations": 2 }
                }),
            )
            .await?;
        runs.push(accepted["id"].as_str().context("id")?.to_owned());
    }
    for run in &runs {
        let status = api
            .wait_for(
                run,
                is_final,
                Duration::from_millis(100),
                Duration::from_secs(300),
            )
            .await?;
        anyhow::ensure!(
            status["status"] == "completed",
            "focus group {run}: {status}"
        );
    }
    let config = Config::from_vars(vars.clone())?;
    let (store, _) = troupe::connect(&config).await?;
    copy_simulations(&vars["TROUPE_DATABASE_URL"], simulations - RUN_FOR_REAL).await?;
    println!(
        "ui bench: shape=embedded clients={clients} listings={listings} simulations={simulations} seeded in {:.1} s; {requests} requests per page on one connection",
        started.elapsed().as_secs_f64()
    );

    let cookie = sign_in(&store, api.base()).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let base = api.base().to_owned();
    let results = &runs[0];
    let person = first_client(api).await?;
    let reference = measure(&client, &format!("{base}/healthz"), None, None, requests).await?;
    let api_results = measure(
        &client,
        &format!("{base}/api/v1/simulations/{results}/results"),
        None,
        Some(api.key()),
        requests,
    )
    .await?;
    println!(
        "reference healthz p50_ms={:.2} p95_ms={:.2}; api results JSON p50_ms={:.2} p95_ms={:.2} bytes={}",
        reference.p50_ms,
        reference.p95_ms,
        api_results.p50_ms,
        api_results.p95_ms,
        api_results.bytes
    );
    let mut summary = Vec::new();
    for (name, path) in [
        ("simulations", "/simulations".to_owned()),
        ("results", format!("/simulations/{results}")),
        ("report", format!("/simulations/{results}/report")),
        ("csv", format!("/simulations/{results}/tables/answers.csv")),
        ("clients", "/clients".to_owned()),
        ("client", format!("/clients/{person}")),
        ("listings", "/listings".to_owned()),
        ("listing", format!("/listings/{}", listing_ids[0])),
        ("matching", "/matching".to_owned()),
        ("nightly", "/matching/nightly".to_owned()),
        ("client-edit", format!("/clients/{person}/edit")),
        ("listing-new", "/listings/new".to_owned()),
        ("individual-form", "/simulations/new/individual".to_owned()),
        ("marketing-form", "/simulations/new/marketing".to_owned()),
    ] {
        let measured = measure(
            &client,
            &format!("{base}{path}"),
            Some(&cookie),
            None,
            requests,
        )
        .await?;
        summary.push(format!(
            "page={name} p50_ms={:.2} p95_ms={:.2} bytes={} p95_over_api_results={:.2}",
            measured.p50_ms,
            measured.p95_ms,
            measured.bytes,
            measured.p95_ms / api_results.p95_ms
        ));
    }
    for line in summary {
        println!("{line}");
    }
    deployment.stop();
    store.close().await;
    Ok(())
}

/// Adds `copies` finished simulations, copies of the finished ones with new ids.
async fn copy_simulations(url: &str, copies: usize) -> anyhow::Result<()> {
    // The running service holds the database too: wait for its writes rather than fail.
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(url)?.busy_timeout(Duration::from_secs(30));
    let pool = sqlx::SqlitePool::connect_with(options).await?;
    let base: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM simulations WHERE status = 'completed'")
            .fetch_one(&pool)
            .await?;
    let mut left = copies as i64;
    while left > 0 {
        let batch = left.min(base);
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("CREATE TEMP TABLE copies AS SELECT * FROM simulations WHERE status = 'completed' LIMIT $1")
            .bind(batch)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE copies SET id = randomblob(16)")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO simulations SELECT * FROM copies")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DROP TABLE copies").execute(&mut *tx).await?;
        tx.commit().await?;
        left -= batch;
    }
    pool.close().await;
    Ok(())
}

/// Invites the bench's user and accepts the invitation: the session cookie.
async fn sign_in(store: &troupe_shared::Store, base: &str) -> anyhow::Result<String> {
    let me = store
        .provision_user("Bench", None, "bench", Role::Agent)
        .await?;
    let invitation = troupe_api::invite(
        store,
        Admin::for_operator(&me),
        me.user_id,
        "bench@bench.example",
        base,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let password = "a long bench passphrase";
    let accepted = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .post(&invitation.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("password={password}&confirm={password}").replace(' ', "+"))
        .send()
        .await?;
    let cookie = accepted
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .context("a session cookie")?;
    Ok(cookie.split(';').next().context("name=value")?.to_owned())
}

async fn first_client(api: &troupe::client::ApiClient) -> anyhow::Result<String> {
    let page = api.get("/api/v1/personas?limit=1").await?;
    Ok(page["items"][0]["id"]
        .as_str()
        .context("a client")?
        .to_owned())
}

/// `count` GETs of `url` in a row: p50 and p95 of the whole request (body read), and its size.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    key: Option<&str>,
    count: usize,
) -> anyhow::Result<Measured> {
    let mut times = Vec::with_capacity(count);
    let mut bytes = 0;
    for _ in 0..count {
        let mut request = client.get(url);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let started = Instant::now();
        let response = request.send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        bytes = response.bytes().await?.len();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Measured {
        p50_ms: quantile(&mut times, 0.5),
        p95_ms: quantile(&mut times, 0.95),
        bytes,
    })
}
