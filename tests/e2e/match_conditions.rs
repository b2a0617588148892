//! Matching that reads a client's words as a broker would: deal-breakers and wants as
//! conditions (negation, ages, the road a facade is on), property kinds apart from styles,
//! places from the gazetteer by coordinates, and the near misses a broker may call anyway.

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::{Config, domain::Role};

use crate::{
    helpers::{Shape, TestApp, both_shapes},
    matching::matched,
};

both_shapes!(
    deal_breakers_and_wants_are_read_as_conditions,
    places_are_matched_by_where_a_listing_is,
    near_misses_say_what_kept_them_out,
    the_nightly_run_lists_new_near_misses_apart,
    a_brokerage_adds_places_of_its_own
);

fn persona(name: &str, preferences: Value) -> Value {
    json!({ "name": name, "visibility": "brokerage", "preferences": preferences })
}

async fn create(app: &TestApp, path: &str, body: Value) -> String {
    let reply = app.post(path, &body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn by_name<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|r| r["persona_name"] == name)
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["persona_name"].as_str().unwrap())
        .collect()
}

/// The Broad Beach house of the issue: open to the ocean, its street facade on Broad Beach
/// Road, built in 2019, entered as `single_family`.
fn broad_beach() -> Value {
    json!({
        "title": "Broad Beach Modern", "price": 38e6, "property_type": "single_family",
        "description": "A glass-walled modern beach house open to the ocean. The street facade on Broad Beach Road is screened by hedges. No HOA.",
        "features": ["infinity pool", "wine room", "two-car garage"],
        "year_built": 2019, "bedrooms": 6, "lot_size_acres": 0.9,
        "location": { "city": "Malibu", "region": "California", "country": "USA" },
        "coordinates": { "latitude": 34.0335, "longitude": -118.8560 }
    })
}

async fn deal_breakers_and_wants_are_read_as_conditions(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let chalet = create(
        &app,
        "/api/v1/properties",
        json!({
            "title": "Chalet Étoile", "price": 22e6, "property_type": "chalet",
            "description": "Ski-in ski-out chalet on Aspen Mountain with mountain views.",
            "features": ["heated 4-car garage", "boot room", "spa"], "year_built": 2008,
            "location": { "city": "Aspen", "region": "Colorado", "country": "USA" }
        }),
    )
    .await;
    let garage = create(&app, "/api/v1/personas", persona("Gail Garage", json!({
        "deal_breakers": ["no garage"], "features": ["ski-in ski-out", "at least 5 bedrooms"],
        "locations": ["Aspen"], "property_types": ["chalet"], "budget": { "max": 30e6 }
    }))).await;

    // "no garage" means a home without one is out; the chalet has one.
    let for_chalet = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": chalet, "min_score": 0 }),
    )
    .await;
    let gail = by_name(&for_chalet["recommendations"], "Gail Garage")
        .unwrap_or_else(|| panic!("the garaged chalet matches: {for_chalet}"));
    let checks = gail["constraints_passed"].to_string();
    assert!(
        checks.contains("has a garage") && checks.contains("heated 4-car garage"),
        "{checks}"
    );
    let features = gail["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "features")
        .unwrap();
    assert!(
        features["detail"]
            .as_str()
            .unwrap()
            .contains("ski-in ski-out"),
        "{features}"
    );

    // The persona shows how each preference was read, beside the client's words.
    let read = app.get(&format!("/api/v1/personas/{garage}")).await;
    assert_eq!(read.status, 200, "{}", read.body);
    let conditions = read.body["conditions"].as_array().unwrap();
    let reading = |text: &str| {
        conditions
            .iter()
            .find(|c| c["text"] == text)
            .unwrap_or_else(|| panic!("{text}: {conditions:?}"))
    };
    assert_eq!(
        reading("no garage")["reading"],
        "excludes a listing that has no garage"
    );
    assert_eq!(
        reading("at least 5 bedrooms")["reading"],
        "scores a listing that has at least 5 bedrooms"
    );
    assert!(
        reading("chalet")["reading"]
            .as_str()
            .unwrap()
            .contains("single-family home")
    );
    assert!(
        reading("Aspen")["reading"]
            .as_str()
            .unwrap()
            .contains("the town Aspen (US-CO)")
    );

    // Styles are not kinds, "open to the ocean" is an ocean view, "no HOA" in a listing is no
    // HOA, and a phrase that cannot be read is matched as words and says so.
    let beach = create(&app, "/api/v1/properties", broad_beach()).await;
    create(
        &app,
        "/api/v1/personas",
        persona(
            "Stella Style",
            json!({
                "property_types": ["estate", "modern"], "features": ["ocean views"],
                "deal_breakers": ["HOA", "bad feng shui"], "budget": { "max": 45e6 }
            }),
        ),
    )
    .await;
    let for_beach = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": beach, "min_score": 0 }),
    )
    .await;
    let stella = by_name(&for_beach["recommendations"], "Stella Style").unwrap_or_else(|| {
        panic!("an estate-and-modern client matches a modern single-family house: {for_beach}")
    });
    let detail = stella["components"].to_string();
    assert!(
        detail.contains("ocean views") && detail.contains("modern"),
        "{detail}"
    );
    let checks = stella["constraints_passed"].to_string();
    assert!(
        checks.contains("single-family home, a kind the client wants"),
        "{checks}"
    );
    assert!(
        checks.contains("has no homeowners") && checks.contains("matched as words"),
        "{checks}"
    );
    let stella_id = stella["persona_id"].as_str().unwrap();
    let read = app.get(&format!("/api/v1/personas/{stella_id}")).await;
    let feng = read.body["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["text"] == "bad feng shui")
        .unwrap()
        .clone();
    assert_eq!(feng["read"], false, "{feng}");
    assert!(
        feng["reading"]
            .as_str()
            .unwrap()
            .contains("not read as a condition"),
        "{feng}"
    );
    let modern = read.body["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["text"] == "modern")
        .unwrap()
        .clone();
    assert_eq!(
        modern["reading"],
        "likes the modern style (a want, not a limit)"
    );
}

async fn places_are_matched_by_where_a_listing_is(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    for (name, place) in [
        ("Hal Hills", "Hollywood Hills"),
        ("Monty Cito", "Montecito"),
        ("Anne Angeles", "Los Angeles"),
    ] {
        create(
            &app,
            "/api/v1/personas",
            persona(
                name,
                json!({
                    "locations": [place], "budget": { "max": 30e6 }
                }),
            ),
        )
        .await;
    }
    // On Mulholland, above Hollywood: the city is Los Angeles, the neighbourhood the Hills.
    let hills_house = create(
        &app,
        "/api/v1/properties",
        json!({
            "title": "Mulholland Glass House", "price": 21e6, "property_type": "single_family",
            "description": "Canyon and city views.",
            "location": { "city": "Los Angeles", "region": "California", "country": "USA" },
            "coordinates": { "latitude": 34.1300, "longitude": -118.3450 }
        }),
    )
    .await;
    let found = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": hills_house, "min_score": 0 }),
    )
    .await;
    let mut matched_names = names(&found["recommendations"]);
    matched_names.sort();
    assert_eq!(matched_names, ["Anne Angeles", "Hal Hills"], "{found}");
    let hal = by_name(&found["recommendations"], "Hal Hills").unwrap();
    let explanation = hal["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("in Hollywood Hills") && explanation.contains("km from its centre"),
        "{explanation}"
    );
    // Montecito is 140 km away: out, and too far to be a near miss.
    assert!(
        by_name(&found["near_misses"], "Monty Cito").is_none(),
        "{found}"
    );

    // A Santa Barbara house a short drive from Montecito is within the allowance, and says how
    // far outside it is; one in Goleta is a near miss with its distance.
    let near = create(
        &app,
        "/api/v1/properties",
        json!({
            "title": "East Beach Villa", "price": 12e6,
            "location": { "city": "Santa Barbara", "region": "California" },
            "coordinates": { "latitude": 34.4208, "longitude": -119.6700 }
        }),
    )
    .await;
    let found = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": near, "min_score": 0 }),
    )
    .await;
    let monty =
        by_name(&found["recommendations"], "Monty Cito").unwrap_or_else(|| panic!("{found}"));
    let place = monty["constraints_passed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "location")
        .unwrap();
    assert!(
        place["detail"]
            .as_str()
            .unwrap()
            .contains("0.8 km outside Montecito, within its 3.1 km allowance"),
        "{place}"
    );
    let far = create(
        &app,
        "/api/v1/properties",
        json!({
            "title": "Goleta Ranch House", "price": 9e6,
            "location": { "city": "Goleta", "region": "California" }
        }),
    )
    .await;
    let found = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": far, "min_score": 0 }),
    )
    .await;
    assert!(
        by_name(&found["recommendations"], "Monty Cito").is_none(),
        "{found}"
    );
    let monty = by_name(&found["near_misses"], "Monty Cito").unwrap_or_else(|| panic!("{found}"));
    let missed = monty["missed"]["detail"].as_str().unwrap();
    assert!(
        missed.contains("km outside Montecito (placed by the centre of Goleta)"),
        "{missed}"
    );
}

async fn near_misses_say_what_kept_them_out(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let beach = create(&app, "/api/v1/properties", broad_beach()).await;
    for (name, preferences) in [
        (
            "Rhoda Road",
            json!({ "deal_breakers": ["public road frontage"], "budget": { "max": 45e6 } }),
        ),
        (
            "Olive Oldhouse",
            json!({ "deal_breakers": ["new construction"], "budget": { "max": 45e6 } }),
        ),
        ("Pete Price", json!({ "budget": { "max": 30e6 } })),
        (
            "Two Strikes",
            json!({ "deal_breakers": ["new construction"], "budget": { "max": 20e6 } }),
        ),
        (
            "Bea Beach",
            json!({ "features": ["ocean views", "pool"], "budget": { "max": 45e6 } }),
        ),
    ] {
        create(&app, "/api/v1/personas", persona(name, preferences)).await;
    }
    let found = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": beach, "min_score": 0 }),
    )
    .await;
    assert_eq!(names(&found["recommendations"]), ["Bea Beach"], "{found}");
    let mut near = names(&found["near_misses"]);
    near.sort();
    assert_eq!(
        near,
        ["Olive Oldhouse", "Pete Price", "Rhoda Road"],
        "two broken constraints are not a near miss: {found}"
    );
    let missed = |name: &str| {
        by_name(&found["near_misses"], name).unwrap()["missed"]["detail"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        missed("Rhoda Road").contains("Broad Beach Road"),
        "{}",
        missed("Rhoda Road")
    );
    assert!(
        missed("Olive Oldhouse").contains("built 2019"),
        "{}",
        missed("Olive Oldhouse")
    );
    assert!(
        missed("Pete Price").contains("priced 27% above the budget ceiling"),
        "{}",
        missed("Pete Price")
    );
    let rhoda = by_name(&found["near_misses"], "Rhoda Road").unwrap();
    assert!(
        rhoda["explanation"]
            .as_str()
            .unwrap()
            .starts_with("Would match except: deal-breaker"),
        "{rhoda}"
    );
    assert!(by_name(&found["near_misses"], "Bea Beach").is_none());
}

async fn the_nightly_run_lists_new_near_misses_apart(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    // The nightly run holds matches and near misses to its report threshold alike; these bare
    // profiles score below the default 0.5.
    let mut vars = app.vars.clone();
    vars.insert("TROUPE_MATCHING_REPORT_THRESHOLD".into(), "0".into());
    let config = Config::from_vars(vars).unwrap();
    create(
        &app,
        "/api/v1/personas",
        persona("Nina Near", json!({ "budget": { "max": 20e6 } })),
    )
    .await;
    create(
        &app,
        "/api/v1/personas",
        persona("Fay Fit", json!({ "budget": { "max": 40e6 } })),
    )
    .await;
    create(
        &app,
        "/api/v1/properties",
        json!({
            "title": "Point Dume Retreat", "price": 23e6, "location": { "city": "Malibu" }
        }),
    )
    .await;
    let run = troupe::run_nightly_now(&config, "Acme Realty")
        .await
        .unwrap();
    let report = app
        .get(&format!("/api/v1/matching/{}/recommendations", run.id))
        .await;
    assert_eq!(report.status, 200, "{}", report.body);
    let near = &report.body["near_misses"];
    assert_eq!(names(near), ["Nina Near"], "{}", report.body);
    assert_eq!(near[0]["change"], "new");
    assert!(
        near[0]["missed"]["detail"]
            .as_str()
            .unwrap()
            .contains("15% above the budget ceiling"),
        "{near}"
    );
    assert_eq!(
        names(&report.body["recommendations"]),
        ["Fay Fit"],
        "{}",
        report.body
    );
    let announced = app
        .events()
        .await
        .into_iter()
        .find(|e| e.subject_id.to_string() == run.id.to_string())
        .unwrap();
    assert_eq!(
        announced.payload["near_misses"], 1,
        "{:?}",
        announced.payload
    );

    let again = troupe::run_nightly_now(&config, "Acme Realty")
        .await
        .unwrap();
    let report = app
        .get(&format!("/api/v1/matching/{}/recommendations", again.id))
        .await;
    assert_eq!(
        report.body["near_misses"],
        json!([]),
        "nothing changed, nothing new: {}",
        report.body
    );
}

async fn a_brokerage_adds_places_of_its_own(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let agent = app
        .key_for("Acme Realty", Some("West"), "ana", Role::Agent)
        .await;
    let lead = app
        .key_for("Acme Realty", Some("West"), "leo", Role::TeamLead)
        .await;
    let rival = app
        .key_for("Rival Estates", None, "rex", Role::BrokerageAdmin)
        .await;
    let park = json!({ "name": "Beverly Park", "aliases": ["The Park"],
                       "centre": { "latitude": 34.1090, "longitude": -118.4290 }, "radius_km": 1.0 });

    let refused = app
        .request(Method::POST, "/api/v1/places", Some(&agent), Some(&park))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("team leads and brokerage admins")
    );
    let created = app
        .request(Method::POST, "/api/v1/places", Some(&lead), Some(&park))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let place_id = created.body["id"].as_str().unwrap().to_owned();
    let again = json!({ "name": "beverly  PARK", "centre": { "latitude": 34.0, "longitude": -118.0 }, "radius_km": 2.0 });
    let duplicate = app
        .request(Method::POST, "/api/v1/places", Some(&lead), Some(&again))
        .await;
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);
    for bad in [
        json!({ "name": "Nowhere", "centre": { "latitude": 95.0, "longitude": 0.0 }, "radius_km": 1.0 }),
        json!({ "name": "Nowhere", "centre": { "latitude": 1.0, "longitude": 0.0 }, "radius_km": 0 }),
        json!({ "name": "Nowhere", "centre": { "latitude": 1.0, "longitude": 0.0 }, "radius_km": 1.0, "shape": "circle" }),
        json!({ "name": "  ", "centre": { "latitude": 1.0, "longitude": 0.0 }, "radius_km": 1.0 }),
    ] {
        let reply = app
            .request(Method::POST, "/api/v1/places", Some(&lead), Some(&bad))
            .await;
        assert!(
            matches!(reply.status.as_u16(), 400 | 422),
            "{bad}: {} {}",
            reply.status,
            reply.body
        );
        assert!(reply.body["detail"].is_string(), "{}", reply.body);
    }
    let listed = app
        .request(Method::GET, "/api/v1/places", Some(&agent), None)
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "{}", listed.body);
    let theirs = app
        .request(Method::GET, "/api/v1/places", Some(&rival), None)
        .await;
    assert_eq!(
        theirs.body,
        json!([]),
        "another brokerage's places are its own"
    );
    let foreign_delete = app
        .request(
            Method::DELETE,
            &format!("/api/v1/places/{place_id}"),
            Some(&rival),
            None,
        )
        .await;
    assert_eq!(foreign_delete.status, 404, "{}", foreign_delete.body);

    // A client who names it is matched against it, and their persona says so.
    let client = create(
        &app,
        "/api/v1/personas",
        persona("Parker Gates", json!({ "locations": ["the Park"] })),
    )
    .await;
    let read = app.get(&format!("/api/v1/personas/{client}")).await;
    let place = read.body["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["of"] == "location")
        .unwrap()
        .clone();
    assert!(
        place["reading"]
            .as_str()
            .unwrap()
            .contains("the brokerage's place Beverly Park, up to 1.0 km"),
        "{place}"
    );
    let inside = create(&app, "/api/v1/properties", json!({
        "title": "Gated Estate", "price": 40e6, "location": { "city": "Los Angeles", "region": "California" },
        "coordinates": { "latitude": 34.1110, "longitude": -118.4300 }
    })).await;
    let found = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": inside, "min_score": 0 }),
    )
    .await;
    let parker =
        by_name(&found["recommendations"], "Parker Gates").unwrap_or_else(|| panic!("{found}"));
    assert!(
        parker["explanation"]
            .as_str()
            .unwrap()
            .contains("in Beverly Park, 0.2 km from its centre"),
        "{parker}"
    );

    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/places/{place_id}"),
            Some(&lead),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let admin = app
        .key_for("Acme Realty", None, "ada", Role::BrokerageAdmin)
        .await;
    let audit = app
        .request(
            Method::GET,
            "/api/v1/audit?action=place.created",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        audit.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        audit.body
    );
    // Without the place, the phrase is only words, which the listing's location lacks.
    let found = matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": inside, "min_score": 0 }),
    )
    .await;
    assert!(
        by_name(&found["recommendations"], "Parker Gates").is_none(),
        "{found}"
    );
}
