//! Outcomes held against predictions: what really happened after simulations is recorded,
//! checked against what it names, seen by the rules of what it is about, erased with the client,
//! and the accuracy report pairs it with what each simulation predicted.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::domain::Role;

use crate::helpers::{Shape, TestApp, both_shapes, listing, persona};

both_shapes!(
    outcomes_are_held_against_what_was_predicted,
    bad_outcomes_are_refused_and_change_nothing,
    outcomes_are_seen_by_who_may_see_their_client_and_go_with_them,
    the_accuracy_report_counts_only_outcomes_the_caller_may_see,
    a_sale_is_held_against_the_suggested_price,
    runs_completed_before_predictions_were_kept_are_backfilled_at_start
);

const TODAY: fn() -> String = || chrono::Utc::now().date_naive().to_string();

async fn run(app: &TestApp, path: &str, body: Value) -> Value {
    let accepted = app.post(path, &body).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap();
    let status = app.wait_for_final(id, Duration::from_secs(90)).await;
    assert_eq!(status["status"], "completed", "{status}");
    app.get(&format!("/api/v1/simulations/{id}/results"))
        .await
        .body
}

fn group<'a>(report: &'a Value, kind: &str) -> &'a Value {
    let groups = report["groups"].as_array().expect("groups");
    let found: Vec<&Value> = groups.iter().filter(|g| g["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} group: {report}");
    found[0]
}

fn pearson(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    sxy / (sxx * syy).sqrt()
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap_or(f64::NAN) - b).abs() < 1e-9
}

/// Twelve stored clients in two segments, and a stored listing.
async fn clients(app: &TestApp) -> (Vec<String>, String) {
    let mut ids = Vec::new();
    let wants: [&[&str]; 4] = [
        &["wine cellar", "home theater"],
        &["ocean view"],
        &["heated pool", "ski room", "wine cellar"],
        &["golf course"],
    ];
    for i in 0..12 {
        let segment = if i % 2 == 0 { "finance" } else { "tech" };
        let body = persona(
            &format!("Client {i}"),
            segment,
            wants[i % 4],
            &[],
            20e6 + 2e6 * i as f64,
        );
        ids.push(
            app.create_persona(&body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let property = app.create_property(&listing()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (ids, property)
}

/// A seeded process of ground truth tied to what was predicted: a showing's reaction is the
/// predicted intent moved by at most a point, and a client offers with the square of the
/// predicted purchase probability (a known overconfidence); campaign counts run at 80% of the
/// predicted rates. The report must compute exactly what these pairs give.
async fn outcomes_are_held_against_what_was_predicted(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (clients, property) = clients(&app).await;
    let focus = run(
        &app,
        "/api/v1/simulations/focus-group",
        json!({
            "property_id": property, "persona_ids": clients,
            "questions": ["Would you buy it at this price?"], "modifications_to_test": [],
            "simulation_params": { "iterations": 1, "seed": 3 }
        }),
    )
    .await;
    let mut rng = StdRng::seed_from_u64(17);
    let (mut showings, mut pairs, mut trials) = (Vec::new(), Vec::new(), Vec::new());
    for answer in focus["results"]["raw_responses"].as_array().unwrap() {
        let judgement = &answer["judgement"];
        let intent = judgement["purchase_intent"].as_f64().unwrap();
        let probability = judgement["purchase_probability"].as_f64().unwrap();
        let reaction = (intent + f64::from(rng.random_range(-1i32..=1))).clamp(1.0, 5.0);
        let offered = rng.random::<f64>() < probability * probability;
        let client = &answer["persona_id"];
        showings.push(
            json!({ "type": "showing", "occurred_on": TODAY(), "property_id": property,
            "persona_id": client, "reaction": reaction as u8, "comment": "Loved the cellar" }),
        );
        if offered {
            showings.push(
                json!({ "type": "offer", "occurred_on": TODAY(), "property_id": property,
                "persona_id": client, "amount": 21e6 }),
            );
        }
        pairs.push((intent, reaction));
        trials.push((probability, offered));
    }
    assert_eq!(pairs.len(), 12, "one answer per client");
    let recorded = app
        .post("/api/v1/outcomes/batch", &json!({ "outcomes": showings }))
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);
    assert_eq!(recorded.body["created"], showings.len());

    let marketing = run(
        &app,
        "/api/v1/simulations/marketing",
        json!({
            "persona_ids": clients,
            "materials": [
                { "name": "Cellar", "body": "A private wine cellar tasting at Ridgeline Estate." },
                { "name": "Price", "body": "Ridgeline Estate, now 24 million." }
            ],
            "channels": ["email", "sms"],
            "simulation_params": { "iterations": 1, "seed": 4 }
        }),
    )
    .await;
    let simulation = marketing["id"].as_str().unwrap().to_owned();
    let mut campaign = Vec::new();
    let mut errors = Vec::new();
    for cell in marketing["results"]["detailed_insights"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["segment"] == "all")
    {
        let predicted = |field: &str| cell[field]["mean"].as_f64().unwrap();
        let real = |field: &str| (1000.0 * 0.8 * predicted(field)).round() as u64;
        campaign.push(json!({ "type": "campaign", "occurred_on": TODAY(), "simulation_id": simulation,
            "material": cell["material"], "channel": cell["channel"], "sent": 1000,
            "opened": real("open_rate"), "clicked": real("click_rate"), "replied": real("reply_rate") }));
        errors.push((predicted("open_rate") - real("open_rate") as f64 / 1000.0).abs());
    }
    assert_eq!(campaign.len(), 4, "two materials on two channels");
    let recorded = app
        .post("/api/v1/outcomes/batch", &json!({ "outcomes": campaign }))
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);

    let report = app.get("/api/v1/accuracy").await;
    assert_eq!(report.status, 200, "{}", report.body);
    let focus_group = group(&report.body, "focus_group");
    assert_eq!(focus_group["provider"], focus["metadata"]["provider"]);
    assert_eq!(focus_group["model"], focus["metadata"]["model_version"]);
    assert_eq!(focus_group["predictions"], 12);
    assert_eq!(focus_group["outcomes"], showings.len());
    let correlation = &focus_group["correlations"][0];
    assert_eq!(correlation["of"], "purchase intent vs showing reaction");
    assert_eq!(correlation["pairs"], 12);
    let intents: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    if intents.iter().any(|i| *i != intents[0]) {
        let r = pearson(&pairs);
        let measured = &correlation["pearson"];
        assert!(close(&measured["value"], r), "{measured} vs {r}");
        assert!(
            measured["ci95"][0].as_f64().unwrap() <= r
                && r <= measured["ci95"][1].as_f64().unwrap()
        );
    } else {
        assert!(
            correlation["pearson"].is_null(),
            "no variation, no correlation: {correlation}"
        );
    }
    let brier = trials
        .iter()
        .map(|(p, happened)| (p - f64::from(u8::from(*happened))).powi(2))
        .sum::<f64>()
        / 12.0;
    let calibration = &focus_group["calibration"];
    assert_eq!(calibration["trials"], 12);
    assert!(
        close(&calibration["brier"]["value"], brier),
        "{calibration} vs {brier}"
    );
    assert!(
        calibration["held_out"].is_null(),
        "12 trials are too few to fit on: {calibration}"
    );
    assert_eq!(focus_group["by_month"].as_array().unwrap().len(), 1);

    let marketing_group = group(&report.body, "marketing");
    assert_eq!(marketing_group["predictions"], 4);
    let open = marketing_group["rate_errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["of"] == "open rate")
        .expect("open rate error");
    let mae = errors.iter().sum::<f64>() / errors.len() as f64;
    assert!(
        close(&open["mean_absolute_error"]["value"], mae),
        "{open} vs {mae}"
    );
    assert_eq!(marketing_group["calibration"]["trials"], 3 * 4 * 1000);
    assert_eq!(marketing_group["best"]["checked"], 1, "{marketing_group}");
    // 12 000 recipient trials: enough to fit a calibration on the older ones. Counts at 80% of
    // every predicted rate are a miscalibration a monotone map can take out.
    let held_out = &marketing_group["calibration"]["held_out"];
    assert_eq!(held_out["method"], "isotonic", "{marketing_group}");
    assert!(
        held_out["improvement"].as_f64().unwrap() > 0.0,
        "{held_out}"
    );

    // Narrowed to a kind, and to a model nothing was predicted with.
    let only = app.get("/api/v1/accuracy?kind=marketing").await;
    assert_eq!(
        only.body["groups"].as_array().unwrap().len(),
        1,
        "{}",
        only.body
    );
    let none = app.get("/api/v1/accuracy?model=no-such-model").await;
    assert_eq!(none.body["groups"], json!([]), "{}", none.body);
    let later = app.get("/api/v1/accuracy?since=2999-01-01T00:00:00Z").await;
    assert_eq!(later.body["groups"], json!([]), "{}", later.body);

    // The listing's outcomes read back with the comment as it was said.
    let listed = app
        .get(&format!(
            "/api/v1/outcomes?type=showing&property_id={property}&limit=200"
        ))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 12);
    assert_eq!(items[0]["outcome"]["comment"], "Loved the cellar");
}

async fn bad_outcomes_are_refused_and_change_nothing(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (clients, property) = clients(&app).await;
    let client = &clients[0];
    let showing = |extra: Value| {
        let mut body = json!({ "type": "showing", "occurred_on": TODAY(), "property_id": property,
            "persona_id": client, "reaction": 4 });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let refused = |reply: &crate::helpers::Reply, status: u16, pointer: &str| {
        assert_eq!(reply.status, status, "{}", reply.body);
        let named = if status == 404 {
            reply.body["detail"].to_string()
        } else {
            reply.body["errors"].to_string()
        };
        assert!(named.contains(pointer), "{pointer} named: {}", reply.body);
    };

    let unknown = app
        .post(
            "/api/v1/outcomes",
            &showing(json!({ "property_id": uuid::Uuid::nil() })),
        )
        .await;
    refused(&unknown, 404, "/property_id");
    // Another brokerage's listing is as unknown as one that never was.
    let rival = app
        .key_for("Rival Estates", None, "mallory", Role::BrokerageAdmin)
        .await;
    let theirs = app
        .request(
            Method::POST,
            "/api/v1/properties",
            Some(&rival),
            Some(&listing()),
        )
        .await;
    let theirs = theirs.body["id"].as_str().unwrap();
    let foreign = app
        .post(
            "/api/v1/outcomes",
            &showing(json!({ "property_id": theirs })),
        )
        .await;
    refused(&foreign, 404, "/property_id");
    assert_eq!(foreign.body["type"], unknown.body["type"]);
    let sale = app
        .post(
            "/api/v1/outcomes",
            &json!({ "type": "sale", "occurred_on": "2001-05-01", "property_id": property, "price": 2e7 }),
        )
        .await;
    refused(&sale, 422, "/occurred_on");
    assert!(
        sale.body["errors"].to_string().contains("before listing"),
        "{}",
        sale.body
    );
    let future = app
        .post(
            "/api/v1/outcomes",
            &showing(json!({ "occurred_on": "2999-01-01" })),
        )
        .await;
    refused(&future, 422, "/occurred_on");
    let typo = app
        .post("/api/v1/outcomes", &showing(json!({ "reacton": 4 })))
        .await;
    assert_eq!(typo.status, 400, "{}", typo.body);
    let out_of_scale = app
        .post("/api/v1/outcomes", &showing(json!({ "reaction": 6 })))
        .await;
    assert_eq!(out_of_scale.status, 400, "{}", out_of_scale.body);

    // Counts that do not add up, and a simulation of another kind.
    let individual = run(
        &app,
        "/api/v1/simulations/individual",
        json!({ "persona_id": client, "scenario": { "type": "property_viewing", "context": { "property": "Ridgeline" } } }),
    )
    .await;
    let simulation = individual["id"].as_str().unwrap();
    let campaign = app
        .post(
            "/api/v1/outcomes",
            &json!({ "type": "campaign", "occurred_on": TODAY(), "simulation_id": simulation,
                "material": "Cellar", "channel": "email", "sent": 10, "opened": 12, "clicked": 0, "replied": 0 }),
        )
        .await;
    refused(&campaign, 422, "/simulation_id");
    let marketing = run(
        &app,
        "/api/v1/simulations/marketing",
        json!({ "persona_ids": [client], "materials": [{ "name": "Cellar", "body": "A private wine cellar tasting." }],
                "channels": ["email"], "simulation_params": { "iterations": 1 } }),
    )
    .await;
    let counts = |opened: u64, clicked: u64, material: &str, segment: Option<&str>| {
        let mut body = json!({ "type": "campaign", "occurred_on": TODAY(), "simulation_id": marketing["id"],
            "material": material, "channel": "email", "sent": 10, "opened": opened, "clicked": clicked, "replied": 0 });
        if let Some(segment) = segment {
            body["segment"] = json!(segment);
        }
        body
    };
    refused(
        &app.post("/api/v1/outcomes", &counts(12, 0, "Cellar", None))
            .await,
        422,
        "/opened",
    );
    refused(
        &app.post("/api/v1/outcomes", &counts(5, 6, "Cellar", None))
            .await,
        422,
        "/clicked",
    );
    refused(
        &app.post("/api/v1/outcomes", &counts(5, 1, "Launch", None))
            .await,
        422,
        "/material",
    );
    refused(
        &app.post("/api/v1/outcomes", &counts(5, 1, "Cellar", Some("crypto")))
            .await,
        422,
        "/segment",
    );
    assert!(
        campaign.body["errors"].to_string().contains("individual"),
        "{}",
        campaign.body
    );

    // One bad outcome in a batch: none is recorded, and its position is named.
    let batch = app
        .post(
            "/api/v1/outcomes/batch",
            &json!({ "outcomes": [showing(json!({})), showing(json!({ "persona_id": uuid::Uuid::nil() }))] }),
        )
        .await;
    refused(&batch, 404, "/outcomes/1/persona_id");
    let invalid_batch = app
        .post(
            "/api/v1/outcomes/batch",
            &json!({ "outcomes": [showing(json!({})), showing(json!({ "occurred_on": "2999-01-01" }))] }),
        )
        .await;
    refused(&invalid_batch, 422, "/outcomes/1/occurred_on");
    let listed = app.get("/api/v1/outcomes").await;
    assert_eq!(listed.body["items"], json!([]), "{}", listed.body);

    // An external id replays what it recorded, and refuses a different outcome.
    let first = app
        .post(
            "/api/v1/outcomes",
            &showing(json!({ "external_id": "crm-1" })),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = app
        .post(
            "/api/v1/outcomes",
            &showing(json!({ "external_id": "crm-1" })),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    let changed = app
        .post(
            "/api/v1/outcomes",
            &showing(json!({ "external_id": "crm-1", "reaction": 2 })),
        )
        .await;
    assert_eq!(changed.status, 409, "{}", changed.body);
    let scenario = app
        .post(
            "/api/v1/outcomes",
            &json!({ "type": "scenario", "occurred_on": TODAY(), "simulation_id": simulation,
                "positive": true, "interest": 4 }),
        )
        .await;
    assert_eq!(scenario.status, 201, "{}", scenario.body);
    let listed = app.get("/api/v1/outcomes").await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        listed.body
    );
    let report = app.get("/api/v1/accuracy?kind=individual").await;
    let individual_group = group(&report.body, "individual");
    assert_eq!(individual_group["predictions"], 1);
    assert_eq!(individual_group["calibration"]["trials"], 1);
}

async fn outcomes_are_seen_by_who_may_see_their_client_and_go_with_them(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let property = app.create_property(&listing()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut private = persona("Priya Private", "finance", &["wine cellar"], &[], 30e6);
    private["visibility"] = json!("private");
    let client = app.create_persona(&private).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let showing = json!({ "type": "showing", "occurred_on": TODAY(), "property_id": property,
        "persona_id": client, "reaction": 5, "comment": "Wants a second viewing", "external_id": "crm-private" });
    let offer = json!({ "type": "offer", "occurred_on": TODAY(), "property_id": property,
        "persona_id": client, "amount": 23e6 });
    let recorded = app
        .post(
            "/api/v1/outcomes/batch",
            &json!({ "outcomes": [showing, offer] }),
        )
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);
    let showing_id = recorded.body["outcomes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // An agent of another team cannot see the private client, its outcomes, or record any.
    let carol = app
        .key_for("Acme Realty", Some("East"), "carol", Role::Agent)
        .await;
    let seen = app
        .request(Method::GET, "/api/v1/outcomes", Some(&carol), None)
        .await;
    assert_eq!(seen.body["items"], json!([]), "{}", seen.body);
    let one = app
        .request(
            Method::GET,
            &format!("/api/v1/outcomes/{showing_id}"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(one.status, 404, "{}", one.body);
    let theirs = app
        .request(
            Method::POST,
            "/api/v1/outcomes",
            Some(&carol),
            Some(&showing),
        )
        .await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    assert!(
        theirs.body["detail"].to_string().contains("/persona_id"),
        "{}",
        theirs.body
    );

    // The client's export holds what happened with them, in their words.
    let export = app.get(&format!("/api/v1/personas/{client}/export")).await;
    assert_eq!(export.status, 200, "{}", export.body);
    let held = export.body["outcomes"].to_string();
    assert!(
        held.contains("Wants a second viewing") && held.contains("\"offer\""),
        "{held}"
    );

    // Erasing the client takes its showing (and what it said); the offer stays, without them.
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/personas/{client}"),
            Some(&app.key),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    // Hidden with the client while they can be restored; erased when the window closes.
    let hidden = app.get("/api/v1/outcomes").await;
    assert_eq!(
        hidden.body["items"],
        serde_json::json!([]),
        "{}",
        hidden.body
    );
    let closed =
        chrono::Utc::now() + troupe_shared::domain::RESTORE_WINDOW + chrono::Duration::hours(1);
    assert_eq!(crate::erasure::erase_due(&app, closed).await, 1);
    let left = app.get("/api/v1/outcomes").await;
    let items = left.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", left.body);
    assert_eq!(items[0]["outcome"]["type"], "offer");
    assert!(
        items[0]["outcome"].get("persona_id").is_none(),
        "{}",
        left.body
    );
    let gone = app.get(&format!("/api/v1/outcomes/{showing_id}")).await;
    assert_eq!(gone.status, 404);
}

/// The report reads every outcome of the brokerage in one go; an agent of another team gets it
/// without the showings of a client they may not see.
async fn the_accuracy_report_counts_only_outcomes_the_caller_may_see(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let property = app.create_property(&listing()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut private = persona("Priya Private", "finance", &["wine cellar"], &[], 30e6);
    private["visibility"] = json!("private");
    let mut shared = persona("Sam Shared", "finance", &["wine cellar"], &[], 30e6);
    shared["visibility"] = json!("brokerage");
    let mut clients = Vec::new();
    for client in [private, shared] {
        clients.push(app.create_persona(&client).await["id"].clone());
    }
    run(
        &app,
        "/api/v1/simulations/focus-group",
        json!({ "property_id": property, "persona_ids": clients,
                "questions": ["Would you buy it at this price?"], "modifications_to_test": [],
                "simulation_params": { "iterations": 1, "seed": 5 } }),
    )
    .await;
    let showings: Vec<Value> = clients
        .iter()
        .map(|client| {
            json!({ "type": "showing", "occurred_on": TODAY(), "property_id": property,
                    "persona_id": client, "reaction": 4 })
        })
        .collect();
    let recorded = app
        .post("/api/v1/outcomes/batch", &json!({ "outcomes": showings }))
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);

    let owner = app.get("/api/v1/accuracy?kind=focus_group").await;
    assert_eq!(
        group(&owner.body, "focus_group")["outcomes"],
        2,
        "{}",
        owner.body
    );
    let carol = app
        .key_for("Acme Realty", Some("East"), "carol", Role::Agent)
        .await;
    let theirs = app
        .request(
            Method::GET,
            "/api/v1/accuracy?kind=focus_group",
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert_eq!(
        group(&theirs.body, "focus_group")["outcomes"],
        1,
        "{}",
        theirs.body
    );
}

/// A focus group on a stored listing suggests a price; the listing's sale is held against it.
async fn a_sale_is_held_against_the_suggested_price(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (clients, property) = clients(&app).await;
    let focus = run(
        &app,
        "/api/v1/simulations/focus-group",
        json!({
            "property_id": property, "persona_ids": clients,
            "questions": ["What would you pay for it?"], "modifications_to_test": [],
            "simulation_params": { "iterations": 1, "seed": 9 }
        }),
    )
    .await;
    let pricing = focus["results"]["detailed_insights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "pricing")
        .unwrap_or_else(|| panic!("a pricing insight: {focus}"))
        .clone();
    assert!(pricing["bidders"].as_u64().unwrap() > 0, "{pricing}");
    let suggested = pricing["suggested_price"].as_f64().unwrap();
    let sold_for = 19_500_000.0;
    let sale = app
        .post(
            "/api/v1/outcomes",
            &json!({ "type": "sale", "occurred_on": TODAY(), "property_id": property,
                "price": sold_for, "buyer_persona_id": clients[2], "days_on_market": 41 }),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.body);
    let report = app.get("/api/v1/accuracy?kind=focus_group").await;
    let focus_group = group(&report.body, "focus_group");
    let price_pairs = focus_group["correlations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["of"] == "suggested price vs sale price")
        .unwrap_or_else(|| panic!("the price pair: {focus_group}"));
    assert_eq!(price_pairs["pairs"], 1);
    assert_eq!(
        focus_group["predictions"], 2,
        "the buyer's and the listing's: {focus_group}"
    );
    let error = focus_group["rate_errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["of"] == "suggested price's error as a share of the sale price")
        .unwrap_or_else(|| panic!("the price error: {focus_group}"));
    let expected = (suggested - sold_for).abs() / sold_for;
    assert!(
        close(&error["mean_absolute_error"]["value"], expected),
        "{error} vs {expected}"
    );
    // The buyer's purchase counts against their own predicted probability too.
    assert_eq!(focus_group["calibration"]["trials"], 1, "{focus_group}");
}

/// A run completed by a release that kept no predictions: the next start computes them from its
/// stored plan and results, so the report holds it against the showings recorded since.
async fn runs_completed_before_predictions_were_kept_are_backfilled_at_start(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let clients = crate::calibration::clients(&app).await;
    let property = app.create_property(&listing()).await["id"].clone();
    let focus = run(
        &app,
        "/api/v1/simulations/focus-group",
        json!({ "property_id": property, "persona_ids": clients,
                "questions": ["Would you buy it?"], "modifications_to_test": [],
                "simulation_params": { "iterations": 1, "seed": 5 } }),
    )
    .await;
    let showings: Vec<Value> = focus["results"]["raw_responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|answer| {
            json!({ "type": "showing", "occurred_on": TODAY(), "property_id": property,
                    "persona_id": answer["persona_id"],
                    "reaction": answer["judgement"]["purchase_intent"] })
        })
        .collect();
    let recorded = app
        .post("/api/v1/outcomes/batch", &json!({ "outcomes": showings }))
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);
    let before = app.get("/api/v1/accuracy").await.body;
    let kept = group(&before, "focus_group").clone();
    assert_eq!(kept["predictions"], 8, "{kept}");

    // As an earlier release left it: no predictions, and the marker its migration leaves.
    crate::audit::tamper(
        &app,
        shape,
        &[
            "DELETE FROM predictions",
            "INSERT INTO predictions_to_backfill (pending) VALUES (TRUE)",
        ],
    )
    .await
    .unwrap();
    let gone = app.get("/api/v1/accuracy").await.body;
    assert!(
        !gone["groups"].to_string().contains("focus_group"),
        "{gone}"
    );

    app.store().await; // a process starting: migrations, then the backfill
    let after = app.get("/api/v1/accuracy").await.body;
    let backfilled = group(&after, "focus_group");
    for field in [
        "predictions",
        "outcomes",
        "provider",
        "model",
        "correlations",
    ] {
        assert_eq!(backfilled[field], kept[field], "{field}: {backfilled}");
    }
    // Once: a later start leaves them as they are.
    app.store().await;
    let again = app.get("/api/v1/accuracy").await.body;
    assert_eq!(group(&again, "focus_group")["predictions"], 8);
}
