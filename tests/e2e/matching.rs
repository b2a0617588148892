//! Property–client matching end to end: constraints, ranking, both directions, visibility,
//! import, the incremental nightly run, one run per slot, and feedback.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::{Config, domain::Role};

use crate::helpers::{Options, Reply, Shape, TestApp, both_shapes};

both_shapes!(
    matches_respect_constraints_and_agree_both_ways,
    the_offline_scorer_needs_no_provider,
    matching_respects_visibility_and_refuses_bad_input,
    import_loads_good_rows_and_reports_bad_ones,
    nightly_run_rematches_only_what_changed,
    feedback_changes_later_rankings
);

pub(crate) fn client(
    name: &str,
    features: &[&str],
    deal_breakers: &[&str],
    location: &str,
    max: f64,
) -> Value {
    json!({
        "name": name, "visibility": "brokerage",
        "preferences": { "features": features, "deal_breakers": deal_breakers,
                         "locations": [location], "property_types": ["estate", "villa"],
                         "budget": { "max": max } },
        "personality_traits": { "communication_preference": "text messages", "decision_style": "decisive" }
    })
}

pub(crate) fn listing(
    title: &str,
    city: &str,
    price: f64,
    features: &[&str],
    description: &str,
) -> Value {
    json!({
        "title": title, "price": price, "description": description, "property_type": "estate",
        "location": { "city": city, "region": "California" }, "features": features,
        "photos": [{ "url": "https://example.com/1.jpg", "description": "The wine cellar" }]
    })
}

async fn id_of(app: &TestApp, path: &str, body: Value) -> String {
    let reply = app.post(path, &body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Submits a match and waits for its recommendations.
pub(crate) async fn matched(app: &TestApp, path: &str, body: Value) -> Value {
    let accepted = app.post(path, &body).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let url = accepted.body["recommendations_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = Instant::now();
    loop {
        let reply = app.get(&url).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        match reply.body["run"]["status"].as_str() {
            Some("completed") => return reply.body,
            Some("failed") => panic!("match run failed: {}", reply.body),
            _ => assert!(
                started.elapsed() < Duration::from_secs(30),
                "{}",
                reply.body
            ),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn names(recommendations: &Value) -> Vec<String> {
    recommendations["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["persona_name"].as_str().unwrap().to_owned())
        .collect()
}

fn titles(recommendations: &Value) -> Vec<String> {
    recommendations["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["property_title"].as_str().unwrap().to_owned())
        .collect()
}

/// Five clients who all want a wine cellar with ocean views, three of whom a hard constraint
/// excludes from "Cellar House" (a deal-breaker, the budget, the location), and a second listing.
struct CellarCase {
    fan: String,
    breaker: String,
    cellar: String,
}

async fn seed_cellar_case(app: &TestApp) -> CellarCase {
    let wine = &["wine cellar", "ocean views"];
    let partial = &["wine cellar", "tennis court", "stables"];
    let mut ids = Vec::new();
    for body in [
        client("Wynn Fan", wine, &[], "Malibu", 30e6),
        client("Partial Fan", partial, &[], "Malibu", 30e6),
        client("Drive Hater", wine, &["shared driveway"], "Malibu", 30e6),
        client("Thrifty", wine, &[], "Malibu", 5e6),
        client("Skier", wine, &[], "Aspen", 30e6),
    ] {
        ids.push(id_of(app, "/api/v1/personas", body).await);
    }
    let cellar_features = &["wine cellar", "ocean views", "shared driveway"];
    let cellar = listing(
        "Cellar House",
        "Malibu",
        25e6,
        cellar_features,
        "A cliffside home.",
    );
    let cellar = id_of(app, "/api/v1/properties", cellar).await;
    let court = listing(
        "Court House",
        "Malibu",
        24e6,
        &["tennis court"],
        "A flat lot.",
    );
    id_of(app, "/api/v1/properties", court).await;
    CellarCase {
        fan: ids[0].clone(),
        breaker: ids[2].clone(),
        cellar,
    }
}

async fn matches_respect_constraints_and_agree_both_ways(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let CellarCase {
        fan,
        breaker,
        cellar,
    } = seed_cellar_case(&app).await;

    let to_clients = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": cellar, "min_score": 0 }),
    )
    .await;
    // The deal-breaker, the budget and the location each exclude one client, whatever the score.
    assert_eq!(
        names(&to_clients),
        ["Wynn Fan", "Partial Fan"],
        "{to_clients}"
    );
    let best = &to_clients["recommendations"][0];
    let parts: f64 = best["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["contribution"].as_f64().unwrap())
        .sum();
    assert!(
        (parts - best["score"].as_f64().unwrap()).abs() < 0.01,
        "{best}"
    );
    let passed: Vec<&str> = best["constraints_passed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for constraint in ["deal_breakers", "budget", "location", "property_type"] {
        assert!(passed.contains(&constraint), "{passed:?}");
    }
    assert!(
        best["explanation"]
            .as_str()
            .unwrap()
            .contains("wine cellar"),
        "{best}"
    );
    assert!(
        best["highlights"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == "wine cellar"),
        "{best}"
    );
    assert_eq!(best["outreach"]["channel"], "sms");

    let to_listings = matched(
        &app,
        "/api/v1/matching/client-to-properties",
        json!({ "persona_id": fan, "min_score": 0 }),
    )
    .await;
    assert_eq!(
        titles(&to_listings),
        ["Cellar House", "Court House"],
        "{to_listings}"
    );
    assert_eq!(
        to_listings["recommendations"][0]["score"], best["score"],
        "both directions score a pair alike"
    );
    // The model re-ranks and explains the kept matches; its judgement is one more component.
    let calls_before = app.mock.stats().requests;
    let reranked = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": cellar, "min_score": 0, "rerank": true }),
    )
    .await;
    assert_eq!(names(&reranked), ["Wynn Fan", "Partial Fan"], "{reranked}");
    let top = &reranked["recommendations"][0];
    assert_eq!(top["explained_by"], "model", "{top}");
    assert!(
        top["explanation"].as_str().unwrap().contains("wine cellar"),
        "{top}"
    );
    let parts: Vec<&Value> = top["components"].as_array().unwrap().iter().collect();
    assert!(parts.iter().any(|c| c["name"] == "model_fit"), "{top}");
    let sum: f64 = parts
        .iter()
        .map(|c| c["contribution"].as_f64().unwrap())
        .sum();
    assert!((sum - top["score"].as_f64().unwrap()).abs() < 0.01, "{top}");
    assert_eq!(
        app.mock.stats().requests - calls_before,
        2,
        "one model call per match kept"
    );

    let for_breaker = matched(
        &app,
        "/api/v1/matching/client-to-properties",
        json!({ "persona_id": breaker, "min_score": 0 }),
    )
    .await;
    assert_eq!(titles(&for_breaker), ["Court House"], "{for_breaker}");
}

async fn matching_respects_visibility_and_refuses_bad_input(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let bob = app
        .key_for("Acme Realty", Some("East"), "bob", Role::Agent)
        .await;
    let mut secret = client("Bob's Secret", &["wine cellar"], &[], "Malibu", 30e6);
    secret["visibility"] = json!("private");
    let reply = app
        .request(Method::POST, "/api/v1/personas", Some(&bob), Some(&secret))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let secret_id = reply.body["id"].as_str().unwrap().to_owned();
    id_of(
        &app,
        "/api/v1/personas",
        client("Open Client", &["wine cellar"], &[], "Malibu", 30e6),
    )
    .await;
    let cellar = id_of(
        &app,
        "/api/v1/properties",
        listing("Cellar House", "Malibu", 25e6, &["wine cellar"], ""),
    )
    .await;

    let mine = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": cellar }),
    )
    .await;
    assert_eq!(
        names(&mine),
        ["Open Client"],
        "alice never matches bob's private client"
    );
    let reply = app
        .post(
            "/api/v1/matching/client-to-properties",
            &json!({ "persona_id": secret_id }),
        )
        .await;
    assert_eq!(reply.problem(404), "https://troupe.dev/problems/not-found");

    // The same Idempotency-Key and request: one run; the key with another request: refused.
    let keyed = |body: Value| {
        app.client()
            .post(format!("{}/api/v1/matching/property-to-clients", app.base))
            .bearer_auth(&app.key)
            .header("Idempotency-Key", "cellar-match-1")
            .json(&body)
    };
    let first = app.raw(keyed(json!({ "property_id": cellar }))).await;
    let again = app.raw(keyed(json!({ "property_id": cellar }))).await;
    assert_eq!((first.status.as_u16(), again.status.as_u16()), (202, 202));
    assert_eq!(
        first.body["id"], again.body["id"],
        "a repeated submit is one run"
    );
    let other = app
        .raw(keyed(json!({ "property_id": cellar, "limit": 3 })))
        .await;
    assert_eq!(
        other.problem(422),
        "https://troupe.dev/problems/idempotency-key-reused"
    );

    let rival = app
        .key_for("Rival Estates", None, "mallory", Role::BrokerageAdmin)
        .await;
    let theirs = app
        .request(
            Method::POST,
            "/api/v1/matching/property-to-clients",
            Some(&rival),
            Some(&json!({ "property_id": cellar })),
        )
        .await;
    theirs.problem(404);
    let run_id = mine["run"]["id"].as_str().unwrap();
    app.request(
        Method::GET,
        &format!("/api/v1/matching/{run_id}/recommendations"),
        Some(&rival),
        None,
    )
    .await
    .problem(404);
    let bad_limit = app
        .post(
            "/api/v1/matching/property-to-clients",
            &json!({ "property_id": cellar, "limit": 0 }),
        )
        .await;
    assert_eq!(bad_limit.status, 400, "{}", bad_limit.body);
    let wrong_type = app
        .post(
            "/api/v1/matching/property-to-clients",
            &json!({ "property_id": 42 }),
        )
        .await;
    assert_eq!(wrong_type.status, 400, "{}", wrong_type.body);
    let rec = &mine["recommendations"][0]["id"];
    let bad_outcome = app
        .post(
            &format!(
                "/api/v1/matching/recommendations/{}/feedback",
                rec.as_str().unwrap()
            ),
            &json!({ "outcome": "maybe" }),
        )
        .await;
    assert_eq!(bad_outcome.status, 400, "{}", bad_outcome.body);
    let unknown = app
        .post(
            &format!(
                "/api/v1/matching/recommendations/{}/feedback",
                uuid::Uuid::new_v4()
            ),
            &json!({ "outcome": "sent" }),
        )
        .await;
    unknown.problem(404);
}

async fn import_csv(app: &TestApp, csv: &str) -> Reply {
    let request = app
        .client()
        .post(format!("{}/api/v1/properties/import", app.base))
        .bearer_auth(&app.key)
        .header("content-type", "text/csv")
        .body(csv.to_owned());
    app.raw(request).await
}

async fn import_loads_good_rows_and_reports_bad_ones(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let csv = "ListingId,ListPrice,City,StateOrProvince,PropertyType,BedroomsTotal,PublicRemarks,InteriorFeatures\n\
               MLS-1,24500000,Aspen,CO,Residential,6,Ski-in estate,\"Wine Cellar, Home Theater\"\n\
               MLS-2,a lot,Aspen,CO,Residential,5,Bad price,\n\
               ,9000000,Aspen,CO,Residential,4,No listing id,\n\
               MLS-3,12000000,Malibu,CA,Residential,4,Beach house,Ocean Views\n";
    let first = import_csv(&app, csv).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        (
            first.body["created"].as_u64(),
            first.body["failed"].as_u64()
        ),
        (Some(2), Some(2)),
        "{}",
        first.body
    );
    let lines: Vec<u64> = first.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4], "{}", first.body);
    assert!(
        first.body["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("ListPrice")
    );

    let again = import_csv(&app, csv).await;
    assert_eq!(
        (
            again.body["created"].as_u64(),
            again.body["unchanged"].as_u64()
        ),
        (Some(0), Some(2)),
        "{}",
        again.body
    );
    let changed = app.post("/api/v1/properties/import", &json!([
        { "listing_id": "MLS-3", "title": "Beach House", "price": 11500000, "location": { "city": "Malibu" }, "status": "under_contract" },
        { "listing_id": "MLS-4", "title": "No price" }
    ])).await;
    assert_eq!(
        (
            changed.body["updated"].as_u64(),
            changed.body["failed"].as_u64()
        ),
        (Some(1), Some(1)),
        "{}",
        changed.body
    );

    let aspen = app
        .get("/api/v1/properties?city=aspen&min_price=20000000")
        .await;
    assert_eq!(
        aspen.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        aspen.body
    );
    assert_eq!(aspen.body["items"][0]["bedrooms"], 6);
    let under_contract = app.get("/api/v1/properties?status=under_contract").await;
    assert_eq!(
        under_contract.body["items"][0]["listing_id"], "MLS-3",
        "{}",
        under_contract.body
    );
    let duplicate = app
        .post(
            "/api/v1/properties",
            &json!({ "title": "Copy", "price": 1e6, "listing_id": "MLS-1" }),
        )
        .await;
    duplicate.problem(409);
}

async fn nightly_run_rematches_only_what_changed(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let config = Config::from_vars(app.vars.clone()).unwrap();
    let mut clients = Vec::new();
    for name in ["Ann Lee", "Ben Ng", "Cy Ott"] {
        clients.push(
            id_of(
                &app,
                "/api/v1/personas",
                client(name, &["wine cellar"], &[], "Malibu", 30e6),
            )
            .await,
        );
    }
    let mut listings = Vec::new();
    for title in ["North", "South"] {
        listings.push(
            id_of(
                &app,
                "/api/v1/properties",
                listing(title, "Malibu", 25e6, &["wine cellar"], ""),
            )
            .await,
        );
    }
    let nightly = || troupe::run_nightly_now(&config, "Acme Realty");
    let first = nightly().await.unwrap();
    assert_eq!(first.pairs_scored, 6, "the first run scores every pair");
    let first_recs = app
        .get(&format!("/api/v1/matching/{}/recommendations", first.id))
        .await;
    assert_eq!(
        first_recs.body["recommendations"].as_array().unwrap().len(),
        6,
        "{}",
        first_recs.body
    );
    assert_eq!(first_recs.body["recommendations"][0]["change"], "new");

    // The run announced its new matches through the outbox, in the transaction that stored them.
    let events = app.events().await;
    let announced = events
        .iter()
        .find(|e| e.subject_id.to_string() == first.id.to_string())
        .unwrap();
    assert_eq!(announced.kind, "matching.completed");
    assert_eq!(announced.payload["matches"].as_array().unwrap().len(), 6);
    assert_eq!(announced.payload["matches"][0]["change"], "new");

    let unchanged = nightly().await.unwrap();
    assert_eq!(
        unchanged.pairs_scored, 0,
        "nothing changed, nothing is scored"
    );

    let mut ann = client(
        "Ann Lee",
        &["wine cellar", "ocean views"],
        &[],
        "Malibu",
        30e6,
    );
    ann["version"] = json!(1);
    let put = app
        .request(
            Method::PUT,
            &format!("/api/v1/personas/{}", clients[0]),
            Some(&app.key),
            Some(&ann),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let one_client = nightly().await.unwrap();
    assert_eq!(one_client.pairs_scored, 2, "one client × two listings");
    let reported = app
        .get(&format!(
            "/api/v1/matching/{}/recommendations",
            one_client.id
        ))
        .await;
    assert!(
        reported.body["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["change"] == "changed" && r["persona_name"] == "Ann Lee"),
        "{}",
        reported.body
    );

    let south = listing("South", "Malibu", 26e6, &["wine cellar", "pool"], "");
    let put = app
        .request(
            Method::PUT,
            &format!("/api/v1/properties/{}", listings[1]),
            Some(&app.key),
            Some(&south),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let one_listing = nightly().await.unwrap();
    assert_eq!(one_listing.pairs_scored, 3, "three clients × one listing");

    // Two schedulers firing the same slot create one run.
    let (store, queues) = troupe::connect(&config).await.unwrap();
    let slot = chrono::Utc::now();
    let (a, b) = tokio::join!(
        troupe_scheduler::schedule_nightly(&store, &queues, &config, slot, None),
        troupe_scheduler::schedule_nightly(&store, &queues, &config, slot, None),
    );
    assert_eq!(
        a.unwrap().len() + b.unwrap().len(),
        1,
        "one run per brokerage and slot"
    );
}

async fn feedback_changes_later_rankings(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    // A profile whose enrichment sources are at their limit, the oldest an earlier reaction.
    let mut dana = client("Dana Cole", &["wine cellar"], &[], "Malibu", 30e6);
    let mut sources = vec![json!({ "kind": "match_feedback", "reason": "an old reaction" })];
    sources.extend((1..200).map(|n| json!({ "kind": "note", "text": format!("note {n}") })));
    dana["enrichment_sources"] = json!(sources);
    let buyer = id_of(&app, "/api/v1/personas", dana).await;
    id_of(
        &app,
        "/api/v1/properties",
        listing(
            "Roadside",
            "Malibu",
            25e6,
            &["wine cellar"],
            "Right on the coast road, close to the highway.",
        ),
    )
    .await;
    id_of(
        &app,
        "/api/v1/properties",
        listing(
            "Quiet Cove",
            "Malibu",
            25e6,
            &["wine cellar"],
            "At the end of a private lane.",
        ),
    )
    .await;
    let before = matched(
        &app,
        "/api/v1/matching/client-to-properties",
        json!({ "persona_id": buyer }),
    )
    .await;
    assert_eq!(
        before["recommendations"].as_array().unwrap().len(),
        2,
        "{before}"
    );
    let roadside = before["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["property_title"] == "Roadside")
        .unwrap();
    let feedback = app
        .post(
            &format!(
                "/api/v1/matching/recommendations/{}/feedback",
                roadside["id"].as_str().unwrap()
            ),
            &json!({ "outcome": "not_interested", "reason": "too close to the road" }),
        )
        .await;
    assert_eq!(feedback.status, 201, "{}", feedback.body);
    let shown = app
        .get(&format!(
            "/api/v1/matching/{}/recommendations",
            before["run"]["id"].as_str().unwrap()
        ))
        .await;
    let with_feedback = shown.body["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["property_title"] == "Roadside")
        .unwrap();
    assert_eq!(
        with_feedback["feedback"][0]["reason"],
        "too close to the road"
    );
    // An agent's words about the client are stored sealed.
    assert_eq!(
        crate::enrichment::plaintext_found(&app, shape, "too close to the road").await,
        Vec::<String>::new()
    );
    // The reaction joined the persona's sources, the oldest reaction making room.
    let persona = app.get(&format!("/api/v1/personas/{buyer}")).await;
    let sources = persona.body["enrichment_sources"].as_array().unwrap();
    assert_eq!(sources.len(), 200, "{}", persona.body);
    assert_eq!(sources[0]["kind"], "note");
    assert_eq!(sources[199]["kind"], "match_feedback");
    assert_eq!(sources[199]["reason"], "too close to the road");

    id_of(
        &app,
        "/api/v1/properties",
        listing(
            "Highway View",
            "Malibu",
            25e6,
            &["wine cellar"],
            "Frontage on the main road.",
        ),
    )
    .await;
    let after = matched(
        &app,
        "/api/v1/matching/client-to-properties",
        json!({ "persona_id": buyer }),
    )
    .await;
    assert_eq!(
        titles(&after),
        ["Quiet Cove", "Highway View"],
        "the declined listing is gone and road listings rank lower: {after}"
    );
    let penalised = &after["recommendations"][1]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "feedback")
        .unwrap()["contribution"];
    assert!(penalised.as_f64().unwrap() < 0.0, "{after}");
}

async fn the_offline_scorer_needs_no_provider(shape: Shape) {
    let options = Options {
        vars: vec![("TROUPE_LLM_PROVIDER", "offline".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let cellar = seed_cellar_case(&app).await.cellar;
    let matched = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": cellar, "min_score": 0, "rerank": true }),
    )
    .await;
    assert_eq!(names(&matched), ["Wynn Fan", "Partial Fan"], "{matched}");
    assert_eq!(
        matched["recommendations"][0]["explained_by"], "rules",
        "no model, no re-rank"
    );
    assert_eq!(app.mock.stats().requests, 0, "local embeddings, no calls");
}

/// A nightly slot that passed while no scheduler ran is run once when the scheduler starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_nightly_slot_is_caught_up_at_start() {
    let options = Options {
        vars: vec![("TROUPE_MATCHING_CRON", "0 0 * * * *".into())],
        ..Options::default()
    };
    let app = TestApp::spawn_with(Shape::Embedded, options).await;
    let started = Instant::now();
    let run = loop {
        let runs = app.get("/api/v1/matching?direction=nightly").await;
        assert_eq!(runs.status, 200, "{}", runs.body);
        let items = runs.body["items"].as_array().unwrap().clone();
        if let Some(run) = items.iter().find(|r| r["status"] == "completed") {
            let same_slot = items.iter().filter(|r| r["slot"] == run["slot"]).count();
            assert_eq!(same_slot, 1, "one run for the slot: {}", runs.body);
            break run.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{}", runs.body);
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let slot: chrono::DateTime<chrono::Utc> = run["slot"].as_str().unwrap().parse().unwrap();
    let now = chrono::Utc::now();
    assert!(
        slot <= now && now - slot < chrono::Duration::hours(1),
        "the latest hourly slot: {slot}"
    );
    let bad = app.get("/api/v1/matching?direction=sideways").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}
