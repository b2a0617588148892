//! A client book in from a CRM, at brokerage scale, in both shapes: 10,000 clients as HubSpot
//! contact exports of 1,000 rows, one client in a hundred planted as a second record of the one
//! before it: the same email under a nickname (which the import matches to the stored client, so
//! it updates rather than duplicates), or the same person as "H. Ashbury" in the same city with
//! another address (which it must report). Prints, per shape:
//! - rows/s of the first import and of the same files again (every row unchanged), against
//!   creating 1,000 clients one `POST /personas` at a time, eight at once, measured first in the
//!   same run (the reference);
//! - p50 of `GET /personas/duplicates` over the whole book against one page of
//!   `GET /personas?limit=200`, and how many planted pairs it found of how many there are;
//! - p50 of a single `POST /personas` (which compares the new client with the book) on the full
//!   book, against the same on the empty book at the start.
//!
//! `BENCH_CRM_CLIENTS` (10,000) and `BENCH_CRM_FILE_ROWS` (1,000) scale it. Needs PostgreSQL and
//! Redis as the test script starts them.

use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use troupe_bench::{Deployment, Scratch, env_number, post_all, quantile};

const GIVEN: [&str; 25] = [
    "Harrison",
    "Eleanor",
    "Theodore",
    "Margaux",
    "Sebastian",
    "Isadora",
    "Maximilian",
    "Beatrix",
    "Augustin",
    "Clementine",
    "Leopold",
    "Ottilie",
    "Frederick",
    "Rosalind",
    "Bartholomew",
    "Genevieve",
    "Cornelius",
    "Philippa",
    "Ignatius",
    "Valentina",
    "Alistair",
    "Seraphina",
    "Benedict",
    "Anastasia",
    "Octavian",
];
const CITIES: [&str; 20] = [
    "Malibu",
    "Aspen",
    "Greenwich",
    "Palm Beach",
    "Montecito",
    "Southampton",
    "Jackson",
    "Naples",
    "Beverly Hills",
    "Atherton",
    "Nantucket",
    "Vail",
    "Sun Valley",
    "Carmel",
    "Key Biscayne",
    "Bel Air",
    "Woodside",
    "Rye",
    "Darien",
    "Sag Harbor",
];

const FAMILY_START: [&str; 20] = [
    "Ash", "Bel", "Cal", "Dun", "Ever", "Fair", "Gar", "Hal", "Kings", "Lang", "Mar", "North",
    "Oak", "Pem", "Rad", "Sel", "Thorn", "Wel", "Win", "York",
];
const FAMILY_END: [&str; 20] = [
    "bury", "cott", "field", "ford", "ham", "hurst", "ley", "mont", "more", "ridge", "ston", "ton",
    "wood", "worth", "by", "dale", "gate", "well", "wick", "combe",
];

/// Client `i`: a name no other client shares (25 given names × 400 family names, so families
/// repeat past 10,000), a city, an email and a phone.
fn client(i: usize) -> (String, String, String, String, String) {
    let given = GIVEN[i % GIVEN.len()];
    let f = i / GIVEN.len();
    let family = format!(
        "{}{}",
        FAMILY_START[f % FAMILY_START.len()],
        FAMILY_END[(f / FAMILY_START.len()) % FAMILY_END.len()]
    );
    let city = CITIES[(i / 7) % CITIES.len()];
    let email = format!("client{i}@book.example");
    let phone = format!("+1 310 {:03} {:04}", i / 10_000, i % 10_000);
    (given.into(), family, city.into(), email, phone)
}

/// The export's rows for clients `from..to`, and the planted pairs (the two names each should be
/// found under): every hundredth row is a second record of the one before.
fn export(from: usize, to: usize) -> (String, Vec<[String; 2]>) {
    let mut csv = String::from("Record ID,First Name,Last Name,Email,Phone Number,City\n");
    let mut planted = Vec::new();
    for i in from..to {
        if i % 100 == 99 {
            let (given, family, city, email, _) = client(i - 1);
            let (row, second) = if i % 200 == 199 {
                // The same address under a nickname, and no city.
                let nickname = &given[..3];
                (
                    format!("{i},{nickname},{family},{email},,\n"),
                    format!("{nickname} {family}"),
                )
            } else {
                // The same person by initial, in the same city, with another address.
                let initial = &given[..1];
                (
                    format!("{i},{initial}.,{family},second{i}@book.example,,{city}\n"),
                    format!("{initial}. {family}"),
                )
            };
            csv.push_str(&row);
            planted.push([format!("{given} {family}"), second]);
        } else {
            let (given, family, city, email, phone) = client(i);
            csv.push_str(&format!("{i},{given},{family},{email},{phone},{city}\n"));
        }
    }
    (csv, planted)
}

async fn import(api: &troupe::client::ApiClient, csv: &str) -> anyhow::Result<Value> {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/personas/import", api.base()))
        .bearer_auth(api.key())
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if !status.is_success() {
        bail!("import answered {status}: {body}");
    }
    Ok(body)
}

/// p50 in milliseconds of `runs` sequential GETs of `path`.
async fn p50_get(api: &troupe::client::ApiClient, path: &str, runs: usize) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        api.get(path).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(quantile(&mut times, 0.5))
}

/// p50 in milliseconds of creating `count` clients one after another.
async fn p50_create(
    api: &troupe::client::ApiClient,
    tag: &str,
    count: usize,
) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        let body = json!({ "name": format!("{tag} {i}"), "contact": { "email": format!("{tag}{i}@probe.example") } });
        let started = Instant::now();
        api.post("/api/v1/personas", &body).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(quantile(&mut times, 0.5))
}

async fn run(shape: &str, clients: usize, file_rows: usize) -> anyhow::Result<()> {
    let scratch = if shape == "embedded" {
        Scratch::embedded()?
    } else {
        Scratch::distributed().await?
    };
    let mut vars = scratch.vars.clone();
    vars.insert("TROUPE_LOG".into(), "warn".into());
    vars.insert("TROUPE_BIND".into(), "127.0.0.1:0".into());
    vars.insert("TROUPE_MATCHING_CRON".into(), "0 0 0 1 1 * 2099".into());
    vars.insert("TROUPE_MAX_BODY_BYTES".into(), (8 << 20).to_string());
    let workers = (shape == "distributed").then_some(1);
    let deployment = Deployment::start(vars, workers).await?;
    let api = &deployment.api;

    let create_empty = p50_create(api, "empty-book", 20).await?;
    let reference: Vec<Value> = (0..1_000)
        .map(|i| json!({ "name": format!("Reference {i}"), "contact": { "email": format!("ref{i}@ref.example") },
                         "demographics": { "location": { "city": "Reference Town" } } }))
        .collect();
    let started = Instant::now();
    post_all(api, "/api/v1/personas", reference, 8).await?;
    let single_rps = 1_000.0 / started.elapsed().as_secs_f64();

    let files: Vec<(String, Vec<[String; 2]>)> = (0..clients)
        .step_by(file_rows)
        .map(|from| export(from, (from + file_rows).min(clients)))
        .collect();
    let planted: Vec<&[String; 2]> = files.iter().flat_map(|(_, p)| p).collect();
    let started = Instant::now();
    let mut reports = Vec::new();
    for (csv, _) in &files {
        reports.push(import(api, csv).await?);
    }
    let import_rps = clients as f64 / started.elapsed().as_secs_f64();
    let created: u64 = reports.iter().filter_map(|r| r["created"].as_u64()).sum();
    // What the import itself said: a warning on each planted second record (the ones it could
    // not match by email), naming the first; any other warning is a false alarm.
    let (mut warned_planted, mut planted_rows, mut false_alarms) = (0, 0, 0);
    for row in reports
        .iter()
        .flat_map(|r| r["imported"].as_array().cloned().unwrap_or_default())
    {
        let i: usize = row["external_id"]
            .as_str()
            .context("external id")?
            .parse()?;
        let warned: Vec<String> = row["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w["name"].as_str().map(str::to_owned))
            .collect();
        if i % 100 == 99 && i % 200 != 199 {
            planted_rows += 1;
            let (given, family, ..) = client(i - 1);
            if warned.contains(&format!("{given} {family}")) {
                warned_planted += 1;
            }
        } else if !warned.is_empty() {
            false_alarms += 1;
        }
    }
    println!(
        "shape={shape} import_warned_planted={warned_planted} of={planted_rows} rows_warned_falsely={false_alarms}"
    );
    let started = Instant::now();
    let mut unchanged = 0;
    for (csv, _) in &files {
        unchanged += import(api, csv).await?["unchanged"]
            .as_u64()
            .context("unchanged")?;
    }
    let reimport_rps = clients as f64 / started.elapsed().as_secs_f64();
    println!(
        "shape={shape} clients={clients} created={created} unchanged_on_reimport={unchanged} \
         single_post_rows_per_s={single_rps:.0} import_rows_per_s={import_rps:.0} \
         reimport_rows_per_s={reimport_rps:.0} import_over_single={:.1}",
        import_rps / single_rps
    );

    let page_p50 = p50_get(api, "/api/v1/personas?limit=200", 20).await?;
    let duplicates_p50 = p50_get(api, "/api/v1/personas/duplicates?limit=500", 10).await?;
    let found = api.get("/api/v1/personas/duplicates?limit=500").await?;
    let pairs = found["items"].as_array().context("items")?;
    let planted_found = pairs
        .iter()
        .filter(|pair| {
            let names: Vec<&str> = pair["names"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            planted
                .iter()
                .any(|[a, b]| names == [a, b] || names == [b, a])
        })
        .count();
    println!(
        "shape={shape} duplicates_p50_ms={duplicates_p50:.1} list_page_p50_ms={page_p50:.1} \
         duplicates_over_page={:.1} pairs_found={} planted_pairs_found={planted_found} planted={}",
        duplicates_p50 / page_p50,
        pairs.len(),
        planted.len()
    );
    let create_full = p50_create(api, "full-book", 20).await?;
    println!(
        "shape={shape} create_p50_ms_empty_book={create_empty:.1} create_p50_ms_full_book={create_full:.1} \
         full_over_empty={:.1}",
        create_full / create_empty
    );
    deployment.stop();
    scratch.drop_database().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let clients = env_number("BENCH_CRM_CLIENTS", 10_000);
    let file_rows = env_number("BENCH_CRM_FILE_ROWS", 1_000).max(1);
    for shape in ["embedded", "distributed"] {
        run(shape, clients, file_rows).await?;
    }
    Ok(())
}
