//! The accuracy report at brokerage scale, in both shapes: 10,000 stored predictions (20 focus
//! groups on stored listings × 500 clients, written straight to the database as completed runs
//! write them) and 50,000 outcomes recorded through the API in batches of 1,000 (showings whose
//! reaction follows the predicted intent, offers drawn from the predicted probability). Then it
//! times `GET /api/v1/accuracy` against a reference measured in the same run: `GET
//! /api/v1/outcomes?limit=200`, one page of the same rows; and the brokerage's nightly
//! calibration refit, as the scheduler runs it.
//!
//! Ends with `accuracy <measure>=<value>` lines. `BENCH_CLIENTS`, `BENCH_LISTINGS` and
//! `BENCH_OUTCOMES_PER_PREDICTION` scale it.

use std::time::Instant;

use anyhow::Context;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use troupe::client::ApiClient;
use troupe_bench::{Deployment, Scratch, env_number, post_all, quantile};
use troupe_shared::Config;
use uuid::Uuid;

const SEED: u64 = 20_261_201;
const BATCH: usize = 1000;
const TIMED_RUNS: usize = 5;
/// The bench brokerage and its one user.
const OWNER: &str = "SELECT brokerage_id, id FROM users LIMIT 1";

/// One predicted client × listing.
struct Predicted {
    simulation: Uuid,
    persona: String,
    property: String,
    intent: f64,
    probability: f64,
}

/// Writes the simulations and their predictions as a completing worker would, in multi-row
/// inserts; one text for both drivers.
macro_rules! seed_predictions {
    ($pool:expr, $brokerage:expr, $user:expr, $predicted:expr) => {{
        let pool = $pool;
        let predicted: &[Predicted] = $predicted;
        let now = chrono::Utc::now();
        let mut simulations: Vec<(Uuid, &str)> =
            predicted.iter().map(|p| (p.simulation, p.property.as_str())).collect();
        simulations.dedup();
        for (id, property) in &simulations {
            sqlx::query("INSERT INTO simulations (id, brokerage_id, created_by, kind, status, plan, progress_total, created_at, completed_at, property_id, warnings)
                 VALUES ($1, $2, $3, 'focus_group', 'completed', '{}', 0, $4, $4, $5, '[]')")
                .bind(id).bind($brokerage).bind($user).bind(now)
                .bind(Uuid::parse_str(property)?)
                .execute(pool).await?;
        }
        for chunk in predicted.chunks(500) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO predictions (id, brokerage_id, simulation_id, kind, persona_id, property_id, segment, score, probability, provider, model, predicted_at) ");
            insert.push_values(chunk, |mut row, p| {
                row.push_bind(Uuid::now_v7()).push_bind($brokerage).push_bind(p.simulation)
                    .push_bind("focus_group")
                    .push_bind(Uuid::parse_str(&p.persona).expect("uuid"))
                    .push_bind(Uuid::parse_str(&p.property).expect("uuid"))
                    .push_bind("all").push_bind(p.intent).push_bind(p.probability)
                    .push_bind("openai").push_bind("bench-model").push_bind(now);
            });
            insert.build().execute(pool).await?;
        }
        anyhow::Ok(())
    }};
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let clients = env_number("BENCH_CLIENTS", 500);
    let listings = env_number("BENCH_LISTINGS", 20);
    let per_prediction = env_number("BENCH_OUTCOMES_PER_PREDICTION", 5);
    let mut summary = Vec::new();
    for shape in ["embedded", "distributed"] {
        let scratch = match shape {
            "distributed" => Scratch::distributed().await?,
            _ => Scratch::embedded()?,
        };
        let mut vars = scratch.vars.clone();
        vars.insert("TROUPE_LOG".into(), "warn".into());
        vars.insert("TROUPE_BIND".into(), "127.0.0.1:0".into());
        let workers = (shape == "distributed").then_some(0);
        let deployment = Deployment::start(vars.clone(), workers).await?;
        let api = &deployment.api;
        let started = Instant::now();
        let clients: Vec<Value> = (0..clients)
            .map(|i| {
                json!({ "name": format!("Client {i}"), "visibility": "brokerage",
                        "preferences": { "features": ["wine cellar"], "budget": { "max": 30e6 } } })
            })
            .collect();
        let personas = post_all(api, "/api/v1/personas", clients, 16).await?;
        let homes: Vec<Value> = (0..listings)
            .map(|i| {
                json!({ "title": format!("Estate {i}"), "price": 2e7 + 1e5 * i as f64,
                        "location": { "city": "Aspen", "region": "Colorado", "country": "USA" } })
            })
            .collect();
        let properties = post_all(api, "/api/v1/properties", homes, 16).await?;
        let mut rng = StdRng::seed_from_u64(SEED);
        let predicted: Vec<Predicted> = properties
            .iter()
            .flat_map(|property| {
                let simulation = Uuid::now_v7();
                personas
                    .iter()
                    .map(move |persona| (simulation, property.clone(), persona.clone()))
            })
            .map(|(simulation, property, persona)| Predicted {
                simulation,
                persona,
                property,
                intent: f64::from(rng.random_range(1u8..=5)),
                probability: rng.random(),
            })
            .collect();
        let url = &vars["TROUPE_DATABASE_URL"];
        let brokerage = if url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(url).await?;
            let (brokerage, user): (Uuid, Uuid) = sqlx::query_as(OWNER).fetch_one(&pool).await?;
            seed_predictions!(&pool, brokerage, user, &predicted)?;
            brokerage
        } else {
            let pool = sqlx::SqlitePool::connect(url).await?;
            let (brokerage, user): (Uuid, Uuid) = sqlx::query_as(OWNER).fetch_one(&pool).await?;
            seed_predictions!(&pool, brokerage, user, &predicted)?;
            brokerage
        };
        let today = chrono::Utc::now().date_naive().to_string();
        let outcomes: Vec<Value> = predicted
            .iter()
            .flat_map(|p| {
                (0..per_prediction).map(move |k| (p, k))
            })
            .map(|(p, k)| {
                let noise = f64::from(rng.random_range(-1i32..=1));
                if k + 1 == per_prediction && rng.random::<f64>() < p.probability {
                    json!({ "type": "offer", "occurred_on": today, "property_id": p.property,
                            "persona_id": p.persona, "amount": 2e7 })
                } else {
                    json!({ "type": "showing", "occurred_on": today, "property_id": p.property,
                            "persona_id": p.persona, "reaction": (p.intent + noise).clamp(1.0, 5.0) as u8 })
                }
            })
            .collect();
        let seeded = started.elapsed().as_secs_f64();
        let mut batch_seconds = Vec::new();
        for batch in outcomes.chunks(BATCH) {
            let at = Instant::now();
            api.post("/api/v1/outcomes/batch", &json!({ "outcomes": batch }))
                .await
                .context("recording a batch of outcomes")?;
            batch_seconds.push(at.elapsed().as_secs_f64());
        }
        println!(
            "accuracy bench: shape={shape} predictions={} outcomes={} seeded in {seeded:.1} s; outcomes recorded in {:.1} s",
            predicted.len(),
            outcomes.len(),
            batch_seconds.iter().sum::<f64>()
        );
        let report = time(api, "/api/v1/accuracy").await?;
        let reference = time(api, "/api/v1/outcomes?limit=200").await?;
        let body = api.get("/api/v1/accuracy").await?;
        let group = &body["groups"][0];
        println!(
            "shape={shape} report_p50_s={:.3} outcomes_page_p50_s={:.4} report_over_page={:.1} record_batch_of_{BATCH}_p50_s={:.2} (report: {} predictions, {} outcomes, pearson {:.3})",
            report,
            reference,
            report / reference,
            quantile(&mut batch_seconds, 0.5),
            group["predictions"],
            group["outcomes"],
            group["correlations"][0]["pearson"]["value"]
                .as_f64()
                .unwrap_or(f64::NAN),
        );
        // The nightly refit of this brokerage, as the scheduler runs it: read every prediction
        // and outcome, fit, store.
        let (store, _) = troupe::connect(&Config::from_vars(vars.clone())?).await?;
        let mut refits = Vec::with_capacity(TIMED_RUNS);
        let mut in_force = Vec::new();
        for _ in 0..TIMED_RUNS {
            let at = Instant::now();
            in_force = store
                .refit_calibrations(brokerage, chrono::Utc::now(), 50)
                .await?;
            refits.push(at.elapsed().as_secs_f64());
        }
        store.close().await;
        let refit = quantile(&mut refits, 0.5);
        println!(
            "shape={shape} refit_p50_s={refit:.3} refit_over_report={:.1} (fits in force: {}, trials {})",
            refit / report,
            in_force.len(),
            in_force.first().map_or(0, |f| f.trials),
        );
        summary.push(format!(
            "accuracy shape={shape} report_s={report:.3} report_over_page={:.1} refit_s={refit:.3}",
            report / reference
        ));
        deployment.stop();
        scratch.drop_database().await?;
    }
    for line in summary {
        println!("{line}");
    }
    Ok(())
}

/// The median of timed reads after one warm-up.
async fn time(api: &ApiClient, path: &str) -> anyhow::Result<f64> {
    api.get(path).await?;
    let mut seconds = Vec::with_capacity(TIMED_RUNS);
    for _ in 0..TIMED_RUNS {
        let at = Instant::now();
        api.get(path).await?;
        seconds.push(at.elapsed().as_secs_f64());
    }
    Ok(quantile(&mut seconds, 0.5))
}
