//! Stored calibration: fitted on a brokerage's outcomes (nightly, or when an admin asks), judged
//! on held-out outcomes, named in the accuracy report, and shown beside the raw figures of
//! results; and outcomes imported from CSV, line by line.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::{Config, domain::Role};

use crate::helpers::{Shape, TestApp, both_shapes, listing, persona};

both_shapes!(
    a_calibration_fitted_on_outcomes_recalibrates_results,
    the_nightly_refit_fits_each_slot_once,
    outcomes_import_from_csv_line_by_line
);

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

async fn completed(app: &TestApp, path: &str, body: Value) -> Value {
    let accepted = app.post(path, &body).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap();
    let status = app.wait_for_final(id, Duration::from_secs(90)).await;
    assert_eq!(status["status"], "completed", "{status}");
    results(app, id).await
}

async fn results(app: &TestApp, id: &str) -> Value {
    let read = app.get(&format!("/api/v1/simulations/{id}/results")).await;
    assert_eq!(read.status, 200, "{}", read.body);
    read.body
}

/// Eight stored clients in two segments.
pub async fn clients(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..8 {
        let segment = if i % 2 == 0 { "finance" } else { "tech" };
        let wants: &[&str] = if i % 3 == 0 {
            &["wine cellar"]
        } else {
            &["ocean view", "home theater"]
        };
        let body = persona(
            &format!("Client {i}"),
            segment,
            wants,
            &[],
            20e6 + 1e6 * i as f64,
        );
        ids.push(
            app.create_persona(&body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids
}

/// A marketing test whose every whole-audience cell really ran at half its predicted rates:
/// counts of a known overconfidence.
pub async fn tested_campaign(app: &TestApp, clients: &[String]) -> (String, Vec<Value>) {
    let marketing = completed(
        app,
        "/api/v1/simulations/marketing",
        json!({
            "persona_ids": clients,
            "materials": [
                { "name": "Cellar", "body": "A private wine cellar tasting at Ridgeline Estate." },
                { "name": "Price", "body": "Ridgeline Estate, now 24 million." }
            ],
            "channels": ["email", "sms"],
            "simulation_params": { "iterations": 1, "seed": 5 }
        }),
    )
    .await;
    let id = marketing["id"].as_str().unwrap().to_owned();
    let campaign: Vec<Value> = marketing["results"]["detailed_insights"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "engagement" && i["segment"] == "all")
        .map(|cell| {
            let half =
                |field: &str| (1000.0 * 0.5 * cell[field]["mean"].as_f64().unwrap()).round() as u64;
            json!({ "type": "campaign", "occurred_on": today(), "simulation_id": id,
                "material": cell["material"], "channel": cell["channel"], "sent": 1000,
                "opened": half("open_rate"), "clicked": half("click_rate"),
                "replied": half("reply_rate") })
        })
        .collect();
    assert_eq!(campaign.len(), 4, "two materials on two channels");
    (id, campaign)
}

async fn a_calibration_fitted_on_outcomes_recalibrates_results(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let admin = app
        .key_for("Acme Realty", Some("West"), "boss", Role::BrokerageAdmin)
        .await;
    let clients = clients(&app).await;
    let (simulation, campaign) = tested_campaign(&app, &clients).await;
    let before = results(&app, &simulation).await;
    assert!(
        before["calibrated"].is_null(),
        "nothing fitted yet: {before}"
    );
    let none = app.get("/api/v1/accuracy/calibrations").await;
    assert_eq!(none.status, 200, "{}", none.body);
    assert_eq!(none.body, json!({ "items": [], "min_trials": 50 }));

    let recorded = app
        .post("/api/v1/outcomes/batch", &json!({ "outcomes": campaign }))
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);
    // A focus group with a showing for every client: 8 trials, under the 50 a fit needs.
    let property = app.create_property(&listing()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    completed(
        &app,
        "/api/v1/simulations/focus-group",
        json!({ "property_id": property, "persona_ids": clients,
            "questions": ["Would you buy it?"], "modifications_to_test": [],
            "simulation_params": { "iterations": 1, "seed": 2 } }),
    )
    .await;
    let showings: Vec<Value> = clients
        .iter()
        .map(|c| {
            json!({ "type": "showing", "occurred_on": today(), "property_id": property,
            "persona_id": c, "reaction": 3 })
        })
        .collect();
    let recorded = app
        .post("/api/v1/outcomes/batch", &json!({ "outcomes": showings }))
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);

    // Only an admin refits out of hours.
    let refused = app.post("/api/v1/accuracy/calibrations", &json!({})).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let refit = app
        .request(
            Method::POST,
            "/api/v1/accuracy/calibrations",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(refit.status, 200, "{}", refit.body);
    let items = refit.body["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "only marketing has 50 trials: {}",
        refit.body
    );
    let fit = &items[0];
    assert_eq!(fit["kind"], "marketing");
    assert_eq!(fit["method"], "isotonic");
    assert_eq!(fit["trials"], 3 * 4 * 1000);
    assert_eq!(fit["applied"], true, "{fit}");
    assert!(
        fit["held_out"]["improvement"].as_f64().unwrap() > 0.0,
        "{fit}"
    );

    // The results now carry every cell's rates beside their calibrated twins, from that fit.
    let after = results(&app, &simulation).await;
    let calibrated = &after["calibrated"];
    assert_eq!(calibrated["calibration"]["id"], fit["id"], "{calibrated}");
    let cells: Vec<&Value> = after["results"]["detailed_insights"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "engagement")
        .collect();
    let figures = calibrated["figures"].as_array().unwrap();
    assert_eq!(figures.len(), 3 * cells.len(), "{calibrated}");
    for cell in cells.iter().filter(|c| c["segment"] == "all") {
        for figure in ["open_rate", "click_rate", "reply_rate"] {
            let found = figures
                .iter()
                .find(|f| {
                    f["figure"] == figure
                        && f["material"] == cell["material"]
                        && f["channel"] == cell["channel"]
                        && f["segment"] == "all"
                })
                .unwrap_or_else(|| panic!("{figure} of {cell}"));
            let raw = cell[figure]["mean"].as_f64().unwrap();
            assert!(
                (found["raw"].as_f64().unwrap() - raw).abs() < 1e-9,
                "{found}"
            );
            // The map learnt the cells' own frequencies: half of what was predicted.
            let expected = (1000.0 * 0.5 * raw).round() / 1000.0;
            let got = found["calibrated"].as_f64().unwrap();
            assert!(
                (got - expected).abs() < 0.002,
                "{found}: expected {expected}"
            );
        }
    }

    // The report names the fit in force for its group, and none for the focus groups.
    let report = app.get("/api/v1/accuracy").await;
    let groups = report.body["groups"].as_array().unwrap();
    let marketing = groups.iter().find(|g| g["kind"] == "marketing").unwrap();
    assert_eq!(marketing["stored_calibration"]["id"], fit["id"]);
    let focus = groups.iter().find(|g| g["kind"] == "focus_group").unwrap();
    assert!(focus["stored_calibration"].is_null(), "{focus}");

    // A refit makes a new fit, and results name the newest.
    let again = app
        .request(
            Method::POST,
            "/api/v1/accuracy/calibrations",
            Some(&admin),
            None,
        )
        .await;
    let newer = &again.body["items"][0];
    assert_ne!(newer["id"], fit["id"]);
    let listed = app.get("/api/v1/accuracy/calibrations").await;
    assert_eq!(listed.body["items"][0]["id"], newer["id"]);
    let latest = results(&app, &simulation).await;
    assert_eq!(latest["calibrated"]["calibration"]["id"], newer["id"]);

    // Another brokerage sees none of it.
    let rival = app
        .key_for("Rival Estates", None, "mallory", Role::BrokerageAdmin)
        .await;
    let theirs = app
        .request(
            Method::GET,
            "/api/v1/accuracy/calibrations",
            Some(&rival),
            None,
        )
        .await;
    assert_eq!(theirs.body["items"], json!([]), "{}", theirs.body);
}

async fn the_nightly_refit_fits_each_slot_once(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let clients = clients(&app).await;
    let (_, campaign) = tested_campaign(&app, &clients).await;
    let recorded = app
        .post("/api/v1/outcomes/batch", &json!({ "outcomes": campaign }))
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);
    let config = Config::from_vars(app.vars.clone()).unwrap();
    let store = app.store().await;
    let slot = chrono::Utc::now();
    let (a, b) = tokio::join!(
        troupe_scheduler::refit_calibrations(&store, &config, slot),
        troupe_scheduler::refit_calibrations(&store, &config, slot),
    );
    assert_eq!((a.unwrap(), b.unwrap()), (1, 1), "one group in force");
    let listed = app.get("/api/v1/accuracy/calibrations").await;
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", listed.body);
    // Two schedulers firing one slot stored one fit: the later of the two is not a second row.
    let count = match shape {
        Shape::Distributed => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM calibrations")
            .fetch_one(&app.postgres().await)
            .await
            .unwrap(),
        Shape::Embedded => {
            let pool = sqlx::SqlitePool::connect(&app.vars["TROUPE_DATABASE_URL"])
                .await
                .unwrap();
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM calibrations")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count, 1);
}

async fn import(app: &TestApp, csv: &str, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outcomes.csv");
    std::fs::write(&file, csv).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_troupe"))
        .args(["outcomes", "import"])
        .arg(&file)
        .args(["--url", &app.base, "--key", &app.key])
        .args(extra)
        .env_clear()
        .envs(&app.vars)
        .output()
        .await
        .unwrap();
    let mut said = String::from_utf8_lossy(&output.stdout).into_owned();
    said.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), said)
}

async fn outcomes_import_from_csv_line_by_line(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let clients = clients(&app).await;
    let property = app.create_property(&listing()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let day = today();
    let (a, b, c) = (&clients[0], &clients[1], &clients[2]);
    let csv = format!(
        "type,occurred_on,external_id,property_id,persona_id,reaction,comment,amount\n\
         showing,{day},crm-1,{property},{a},4,\"Loved the cellar, asked about the pool\",\n\
         showing,{day},crm-2,{property},{b},9,,\n\
         offer,{day},crm-3,{property},{c},,,21000000\n\
         showing,{day},crm-4,{property},{c},five,,\n\
         showing,{day},crm-5,{property},{},3,,\n\
         offer,{day},crm-6,{property},{a},2,,21500000\n",
        uuid::Uuid::nil()
    );
    let (code, said) = import(&app, &csv, &[]).await;
    assert_eq!(code, 1, "a refused line fails the import: {said}");
    assert!(
        said.contains("6 rows — 2 recorded, 0 recorded before under their external ids, 4 refused"),
        "{said}"
    );
    // Each bad line by its number in the file (the header is line 1), with its reason.
    for (line, reason) in [
        (3, "`/reaction` must be between 1 and 5, not 9"),
        (5, "`reaction` is \"five\", not a whole number"),
        (6, "persona"),
        (7, "`reaction` does not apply to `offer` outcomes"),
    ] {
        let mention = said
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("line {line}:")))
            .unwrap_or_else(|| panic!("line {line} named: {said}"));
        assert!(mention.contains(reason), "line {line}: {mention}");
    }
    let listed = app
        .get(&format!("/api/v1/outcomes?property_id={property}"))
        .await;
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "the good lines only: {}", listed.body);
    let showing = items
        .iter()
        .find(|i| i["outcome"]["type"] == "showing")
        .unwrap();
    assert_eq!(
        showing["outcome"]["comment"],
        "Loved the cellar, asked about the pool"
    );

    // The same file again records nothing twice; a one-kind file takes `--type`.
    let (_, again) = import(&app, &csv, &[]).await;
    assert!(again.contains("0 recorded, 2 recorded before"), "{again}");
    let offers = format!("occurred_on,property_id,amount\n{day},{property},22000000\n");
    let (code, said) = import(&app, &offers, &["--type", "offer"]).await;
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("1 row — 1 recorded"), "{said}");

    // A file that cannot be read as outcomes at all records nothing and says why.
    let (code, said) = import(&app, "kind,occurred_on\nshowing,2026-01-01\n", &[]).await;
    assert_ne!(code, 0);
    assert!(said.contains("unknown column \"kind\""), "{said}");
    let (code, said) = import(&app, &offers, &[]).await;
    assert_ne!(code, 0);
    assert!(said.contains("no `type` column"), "{said}");
    let listed = app
        .get(&format!("/api/v1/outcomes?property_id={property}"))
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 3);
}
