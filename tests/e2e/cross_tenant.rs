//! Another brokerage's ids, tried on every route of the OpenAPI document that takes one (in its
//! path or its body), by that brokerage's admin and by one of its agents: each answer is the one
//! an id that exists nowhere gets (404; 403 for an agent on an admin-only route, whatever the id),
//! and nothing of the victim's changes — every tenant table is snapshotted before and after.
//!
//! Routes come from `/openapi.json`: a new route is covered as soon as it exists, and a new
//! mutating route whose body this file does not know fails the test until it is taught here.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    time::{Duration, Instant},
};

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::domain::Role;
use uuid::Uuid;

use crate::{
    enrichment::wait_for as wait_for_enrichment,
    helpers::{Options, Shape, TestApp, both_shapes, listing, persona},
    matching::matched,
    receiver::Receiver,
};

both_shapes!(another_brokerage_reaches_nothing_by_id);

/// One kind of record per id a route can name, with the victim's real id for it.
type Ids = HashMap<&'static str, String>;

/// A caller of the attacking brokerage.
struct Attacker {
    label: &'static str,
    key: String,
    admin: bool,
}

async fn another_brokerage_reaches_nothing_by_id(shape: Shape) {
    let receiver = Receiver::start().await;
    let options = Options {
        workers: 1,
        vars: vec![
            ("TROUPE_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
            ("TROUPE_WEBHOOK_POLL_MS", "50".to_owned()),
        ],
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let victim_admin = app
        .key_for("Acme Realty", None, "victim-admin", Role::BrokerageAdmin)
        .await;
    let victim = seed_victim(&app, &victim_admin, &receiver).await;
    let victim_brokerage = app
        .store()
        .await
        .brokerage_id("Acme Realty")
        .await
        .unwrap()
        .unwrap();

    let rival_admin = app
        .key_for("Rival Estates", None, "mallory", Role::BrokerageAdmin)
        .await;
    let rival_agent = app
        .key_for("Rival Estates", Some("North"), "eve", Role::Agent)
        .await;
    let own = seed_attacker(&app, &rival_admin).await;
    let attackers = [
        Attacker {
            label: "admin",
            key: rival_admin,
            admin: true,
        },
        Attacker {
            label: "agent",
            key: rival_agent,
            admin: false,
        },
    ];

    let spec = app.request(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(spec.status, 200);
    let calls = calls_from_spec(&spec.body, &own);

    let before = settled_snapshot(&app, shape, victim_brokerage).await;
    let mut exercised = BTreeSet::new();
    for call in &calls {
        for attacker in &attackers {
            let real = send(&app, call, &attacker.key, &|kind| victim[kind].clone()).await;
            let unknown_ids: Ids = victim
                .keys()
                .map(|kind| (*kind, Uuid::now_v7().to_string()))
                .collect();
            let unknown = send(&app, call, &attacker.key, &|kind| unknown_ids[kind].clone()).await;
            let what = format!(
                "{} {} as the rival {}",
                call.method, call.label, attacker.label
            );
            if call.method == Method::PUT && call.label.contains("/by-external-id/") {
                // An external id is a key in the caller's own brokerage: a PUT with the victim's
                // creates a record of the rival's own (or, for the second rival, finds the one
                // the first made), exactly as any id would. It must name nothing of the victim's,
                // and the victim's rows (compared below) stay as they were.
                let answer = real.2.to_string();
                for kind in ["persona", "property", "user", "team"] {
                    assert!(
                        !answer.contains(&victim[kind]),
                        "{what}: named the victim's {kind}: {answer}"
                    );
                }
                assert!(
                    matches!(real.0, 200 | 201 | 409) && matches!(unknown.0, 201),
                    "{what}: answered {} {} (and {} for an unknown id)",
                    real.0,
                    real.2,
                    unknown.0
                );
                continue;
            }
            assert_eq!(
                (real.0, &real.1),
                (unknown.0, &unknown.1),
                "{what}: another brokerage's id must answer as an unknown one; got {} {} for it, {} {} for an unknown id",
                real.0,
                real.2,
                unknown.0,
                unknown.2
            );
            let expected = real.0 == 404 || (real.0 == 403 && !attacker.admin);
            assert!(expected, "{what}: answered {} {}", real.0, real.2);
        }
        exercised.insert(format!("{} {}", call.method, call.label));
    }
    // Effects could be queued and show later: watch the victim's rows for a while.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let after = snapshot(&app, shape, victim_brokerage).await;
        assert_same(&before, &after);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The victim works as before: its agent's key, and the user an attacker tried to deactivate.
    let personas = app.get("/api/v1/personas").await;
    assert_eq!(personas.status, 200, "{}", personas.body);
    let users_key = app
        .request(
            Method::GET,
            "/api/v1/personas",
            Some(&victim["user_token"]),
            None,
        )
        .await;
    assert_eq!(users_key.status, 200, "{}", users_key.body);

    for must in [
        "POST /users/{id}/deactivate",
        "POST /users/{id}/reassign-personas",
        "DELETE /keys/{id}",
        "POST /keys/{id}/rotate",
        "DELETE /personas/{id}",
        "POST /personas/{id}/restore",
        "PATCH /webhooks/{id}",
        "PATCH /schedules/{id}",
        "DELETE /schedules/{id}",
        "POST /simulations/focus-group",
        "GET /personas/by-external-id/{source}/{external_id}",
        "PUT /personas/by-external-id/{source}/{external_id}",
        "PUT /properties/by-external-id/{source}/{external_id}",
    ] {
        assert!(exercised.contains(must), "{must} was not exercised");
    }
    eprintln!(
        "cross-tenant ({shape:?}): {} calls × 2 callers on {} routes, nothing of the victim's changed:\n  {}",
        calls.len(),
        exercised.len(),
        exercised.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

/// The victim brokerage's records of every kind a route can name, each finished and at rest.
async fn seed_victim(app: &TestApp, admin: &str, receiver: &Receiver) -> Ids {
    let as_admin = |path: &'static str, body: Value| async move {
        let reply = app
            .request(Method::POST, path, Some(admin), Some(&body))
            .await;
        assert!(reply.status.is_success(), "{path}: {}", reply.body);
        reply.body
    };
    let mut ids = Ids::new();
    let team = as_admin("/api/v1/teams", json!({ "name": "Victims" })).await;
    ids.insert("team", id(&team));
    let user = as_admin(
        "/api/v1/users",
        json!({ "name": "victim agent", "role": "agent", "team_id": ids["team"] }),
    )
    .await;
    ids.insert("user", id(&user));
    let key = app
        .request(
            Method::POST,
            &format!("/api/v1/users/{}/keys", ids["user"]),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(key.status, 201, "{}", key.body);
    ids.insert("key", id(&key.body));
    ids.insert("user_token", key.body["token"].as_str().unwrap().to_owned());

    // Each known to a CRM by an id of the `crm` system (see `send`).
    let mut client = persona(
        "Harrison Vale",
        "finance",
        &["wine cellar", "heated pool"],
        &[],
        40e6,
    );
    let external = Uuid::now_v7().to_string();
    client["external_ids"] = json!({ "crm": external });
    let client = app.create_persona(&client).await;
    ids.insert("persona", id(&client));
    ids.insert("persona_external_id", external);
    let mut listed = listing();
    let external = Uuid::now_v7().to_string();
    listed["external_ids"] = json!({ "crm": external });
    let property = app.create_property(&listed).await;
    ids.insert("property", id(&property));
    ids.insert("property_external_id", external);
    let segment = as_admin("/api/v1/segments", json!({ "name": "victim_segment" })).await;
    ids.insert("segment", id(&segment));
    let schedule = as_admin(
        "/api/v1/schedules",
        json!({ "name": "Victim panel", "kind": "focus_group", "cron": "0 0 9 * * Mon",
                "request": { "property_id": ids["property"], "persona_segments": ["finance"],
                             "questions": ["First impression?"] } }),
    )
    .await;
    ids.insert("schedule", id(&schedule));
    let place = as_admin(
        "/api/v1/places",
        json!({ "name": "Victim Cove", "centre": { "latitude": 34.0, "longitude": -118.8 }, "radius_km": 1.0 }),
    )
    .await;
    ids.insert("place", id(&place));

    let simulation = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({ "property_id": ids["property"], "persona_ids": [ids["persona"]], "questions": ["First impression?"] }),
        )
        .await;
    assert_eq!(simulation.status, 202, "{}", simulation.body);
    ids.insert("simulation", id(&simulation.body));
    let finished = app
        .wait_for_final(&ids["simulation"], Duration::from_secs(60))
        .await;
    assert_eq!(finished["status"], "completed", "{finished}");
    let today = chrono::Utc::now().date_naive().to_string();
    let outcome = app
        .post(
            "/api/v1/outcomes",
            &json!({ "type": "showing", "occurred_on": today, "property_id": ids["property"],
                     "persona_id": ids["persona"], "reaction": 4, "comment": "Victim's words" }),
        )
        .await;
    assert_eq!(outcome.status, 201, "{}", outcome.body);
    ids.insert("outcome", id(&outcome.body));

    let matches = matched(
        app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": ids["property"], "min_score": 0.0 }),
    )
    .await;
    ids.insert(
        "match_run",
        matches["run"]["id"].as_str().unwrap().to_owned(),
    );
    ids.insert("recommendation", id(&matches["recommendations"][0]));

    let enrich = app
        .post(
            &format!("/api/v1/personas/{}/enrich", ids["persona"]),
            &json!({ "sources": [{ "kind": "note", "content": "Harrison said his budget is now $45M." }] }),
        )
        .await;
    assert_eq!(enrich.status, 202, "{}", enrich.body);
    ids.insert("enrichment", id(&enrich.body));
    let location = enrich.headers["location"].to_str().unwrap().to_owned();
    wait_for_enrichment(app, &location).await;

    // Created last, so that it has only the ping to deliver.
    let webhook = as_admin(
        "/api/v1/webhooks",
        json!({ "url": format!("http://{}/hook", receiver.addr), "event_types": ["simulation.completed"] }),
    )
    .await;
    ids.insert("webhook", id(&webhook));
    let ping = app
        .request(
            Method::POST,
            &format!("/api/v1/webhooks/{}/ping", ids["webhook"]),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(ping.status, 202, "{}", ping.body);
    ids.insert(
        "delivery",
        ping.body["delivery_id"].as_str().unwrap().to_owned(),
    );
    let started = Instant::now();
    loop {
        let delivery = app
            .request(
                Method::GET,
                &format!(
                    "/api/v1/webhooks/{}/deliveries/{}",
                    ids["webhook"], ids["delivery"]
                ),
                Some(admin),
                None,
            )
            .await;
        if delivery.body["status"] == "succeeded" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            delivery.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ids
}

/// The attacker's own records that a route takes in its path while its body names the victim's.
struct Own {
    departed_user: String,
}

async fn seed_attacker(app: &TestApp, admin: &str) -> Own {
    let user = app
        .request(
            Method::POST,
            "/api/v1/users",
            Some(admin),
            Some(&json!({ "name": "departed", "role": "agent" })),
        )
        .await;
    assert_eq!(user.status, 201, "{}", user.body);
    let departed_user = id(&user.body);
    let deactivated = app
        .request(
            Method::POST,
            &format!("/api/v1/users/{departed_user}/deactivate"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(deactivated.status, 200, "{}", deactivated.body);
    Own { departed_user }
}

fn id(body: &Value) -> String {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_owned()
}

/// One request to try: a path template whose `{param}`s become ids of a kind, and a body whose
/// `@kind` strings do.
struct Call {
    method: Method,
    /// The OpenAPI path, e.g. `/users/{id}/deactivate`.
    label: String,
    /// `/api/v1/…` with `{kind}` placeholders.
    path: String,
    body: Option<Value>,
}

/// Every operation that takes an id, with a body that passes validation, so that the answer
/// comes from the lookup of the id and not from the shape of the request.
fn calls_from_spec(spec: &Value, own: &Own) -> Vec<Call> {
    let mut calls = Vec::new();
    let paths = spec["paths"].as_object().expect("paths");
    for (template, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let path_ids = path_params(template);
            let mut body_ids = BTreeSet::new();
            for media in operation
                .pointer("/requestBody/content")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|content| content.values())
            {
                uuid_fields(spec, &media["schema"], None, 0, &mut body_ids);
            }
            let body_takes_id = body_ids.iter().any(|field| is_reference(template, field));
            if path_ids.is_empty() && !body_takes_id {
                continue;
            }
            let mut path = format!("/api/v1{template}");
            for param in &path_ids {
                let kind = kind_of(template, param);
                path = path.replace(&format!("{{{param}}}"), &format!("{{{kind}}}"));
            }
            let mutating = method != Method::GET;
            let needs_body = operation.get("requestBody").is_some();
            let bodies = match bodies_for(&method, template) {
                Some(bodies) => bodies,
                None if !needs_body => vec![None],
                None if !mutating => continue,
                None => panic!(
                    "{method} {template} changes state and takes an id, but tests/e2e/cross_tenant.rs \
                     does not know a valid body for it: add one to bodies_for"
                ),
            };
            for body in bodies {
                calls.push(Call {
                    method: method.clone(),
                    label: template.clone(),
                    path: path.clone(),
                    body,
                });
            }
        }
    }
    // The attacker's own departed user, handed to the victim's active one.
    calls.push(Call {
        method: Method::POST,
        label: "/users/{id}/reassign-personas".into(),
        path: format!("/api/v1/users/{}/reassign-personas", own.departed_user),
        body: Some(json!({ "to_user_id": "@user" })),
    });
    calls
}

fn path_params(template: &str) -> Vec<String> {
    template
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// Which kind of record a path parameter names.
fn kind_of(template: &str, param: &str) -> &'static str {
    let resource = template.split('/').nth(1).unwrap_or_default();
    match (resource, param) {
        (_, "n") => "version",
        (_, "delivery_id") => "delivery",
        (_, "enrichment_id") => "enrichment",
        (_, "source") => "source",
        ("personas", "external_id") => "persona_external_id",
        ("properties", "external_id") => "property_external_id",
        ("personas", "id" | "other") => "persona",
        ("properties", "id") => "property",
        ("simulations", "id") => "simulation",
        ("segments", "id") => "segment",
        ("places", "id") => "place",
        ("schedules", "id") => "schedule",
        ("outcomes", "id") => "outcome",
        ("matching", "id") if template.starts_with("/matching/recommendations/") => {
            "recommendation"
        }
        ("matching", "id") => "match_run",
        ("webhooks", "id") => "webhook",
        ("users", "id") => "user",
        ("keys", "id") => "key",
        _ => panic!(
            "{template}: tests/e2e/cross_tenant.rs does not know what `{{{param}}}` names: add it to kind_of"
        ),
    }
}

/// The names of the UUID fields anywhere in a schema (`$ref`s followed a few levels deep).
fn uuid_fields(
    spec: &Value,
    schema: &Value,
    name: Option<&str>,
    depth: u32,
    found: &mut BTreeSet<String>,
) {
    if depth > 8 {
        return;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let target = reference.trim_start_matches("#/components/schemas/");
        let target = &spec["components"]["schemas"][target];
        return uuid_fields(spec, target, name, depth + 1, found);
    }
    if schema["format"] == "uuid" {
        found.insert(name.unwrap_or("(body)").to_owned());
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (field, property) in properties {
            uuid_fields(spec, property, Some(field), depth + 1, found);
        }
    }
    if let Some(items) = schema.get("items") {
        uuid_fields(spec, items, name, depth + 1, found);
    }
    for combined in ["allOf", "oneOf", "anyOf"] {
        for part in schema[combined].as_array().into_iter().flatten() {
            uuid_fields(spec, part, name, depth + 1, found);
        }
    }
}

/// Whether a UUID field of a request body names a record the service looks up.
fn is_reference(template: &str, field: &str) -> bool {
    match field {
        "property_id" | "persona_id" | "persona_ids" | "team_id" | "to_user_id"
        | "buyer_persona_id" | "simulation_id" | "into" => true,
        // Provenance a client may echo back (the enrichment source a preference came from):
        // stored as given, never followed.
        "source_id" => false,
        // A persona's own members echoed back on `PUT`: compared with the stored persona's,
        // never followed.
        "id" | "brokerage_id" | "agent_id" => false,
        _ => panic!(
            "{template}: tests/e2e/cross_tenant.rs does not know whether the body field `{field}` \
             names a record: add it to is_reference"
        ),
    }
}

/// Valid bodies for the routes that take one; `@kind` strings become ids. A route with several
/// ids in its body gets one body per id, so that each lookup is tried on its own.
fn bodies_for(method: &Method, template: &str) -> Option<Vec<Option<Value>>> {
    let inline_property = json!({ "title": "Inline", "price": 1000000 });
    let bodies = match (method.as_str(), template) {
        ("PUT", "/personas/{id}") => vec![persona("Hijacked", "tech", &[], &[], 1.0)],
        ("PATCH", "/personas/{id}") => vec![json!({ "segment": "hijacked" })],
        ("POST", "/personas/{id}/enrich") => {
            vec![json!({ "sources": [{ "kind": "note", "content": "Set the budget to $1." }] })]
        }
        ("PUT", "/properties/{id}") => vec![listing()],
        ("PUT", "/personas/by-external-id/{source}/{external_id}") => {
            vec![json!({ "name": "Planted" })]
        }
        ("PUT", "/properties/by-external-id/{source}/{external_id}") => vec![listing()],
        ("POST", "/personas/{id}/merge") => vec![json!({ "into": "@persona" })],
        ("POST", "/simulations/focus-group") => vec![
            json!({ "property_id": "@property", "questions": ["?"] }),
            json!({ "property": inline_property, "persona_ids": ["@persona"], "questions": ["?"] }),
        ],
        ("POST", "/simulations/marketing") => vec![json!({
            "persona_ids": ["@persona"],
            "materials": [{ "name": "A", "body": "A wine cellar." }],
            "channels": ["email"],
        })],
        ("POST", "/simulations/intervention") => vec![json!({
            "persona_ids": ["@persona"],
            "variants": [{ "name": "A", "touches": [{ "day": 0, "channel": "email", "message": "Hello" }] }],
        })],
        ("POST", "/simulations/individual") => vec![json!({
            "persona_id": "@persona",
            "scenario": { "type": "call", "context": { "purpose": "introduce a listing" } },
        })],
        ("POST", "/outcomes") => outcome_bodies(),
        ("POST", "/outcomes/batch") => outcome_bodies()
            .into_iter()
            .map(|outcome| json!({ "outcomes": [outcome] }))
            .collect(),
        ("POST", "/matching/property-to-clients") => vec![json!({ "property_id": "@property" })],
        ("POST", "/matching/client-to-properties") => vec![json!({ "persona_id": "@persona" })],
        ("POST", "/matching/recommendations/{id}/feedback") => {
            vec![json!({ "outcome": "not_interested" })]
        }
        ("PATCH", "/webhooks/{id}") => vec![json!({ "enabled": false })],
        ("PATCH", "/schedules/{id}") => vec![json!({ "enabled": false })],
        ("POST", "/webhooks/{id}/rotate-secret") => vec![json!({ "overlap_hours": 0 })],
        ("POST", "/users") => {
            vec![json!({ "name": "planted", "role": "agent", "team_id": "@team" })]
        }
        ("POST", "/users/{id}/reassign-personas") => vec![json!({ "to_user_id": "@user" })],
        ("POST", "/users/{id}/invite") => vec![json!({ "email": "planted@rival.example" })],
        _ => return None,
    };
    Some(bodies.into_iter().map(Some).collect())
}

/// An outcome of each kind that names a record, dated today.
fn outcome_bodies() -> Vec<Value> {
    let today = chrono::Utc::now().date_naive().to_string();
    vec![
        json!({ "type": "showing", "occurred_on": today, "property_id": "@property", "persona_id": "@persona", "reaction": 5 }),
        json!({ "type": "sale", "occurred_on": today, "property_id": "@property", "price": 1e6, "buyer_persona_id": "@persona" }),
        json!({ "type": "campaign", "occurred_on": today, "simulation_id": "@simulation", "material": "A",
                "channel": "email", "sent": 10, "opened": 5, "clicked": 1, "replied": 1 }),
        json!({ "type": "outreach", "occurred_on": today, "simulation_id": "@simulation", "variant": "A", "persona_id": "@persona" }),
        json!({ "type": "scenario", "occurred_on": today, "simulation_id": "@simulation", "positive": true }),
    ]
}

/// Sends the call with ids from `id_of`; returns the status, the problem type and the body.
async fn send(
    app: &TestApp,
    call: &Call,
    key: &str,
    id_of: &dyn Fn(&str) -> String,
) -> (u16, String, Value) {
    let mut path = call.path.clone();
    while let Some(start) = path.find('{') {
        let end = start + path[start..].find('}').expect("closing brace");
        let kind = &path[start + 1..end];
        let value = match kind {
            "version" => "1".to_owned(),
            // The system every seeded external id belongs to.
            "source" => "crm".to_owned(),
            _ => id_of(kind),
        };
        path.replace_range(start..=end, &value);
    }
    let body = call.body.as_ref().map(|body| with_ids(body, id_of));
    let reply = app
        .request(call.method.clone(), &path, Some(key), body.as_ref())
        .await;
    let kind = reply.body["type"].as_str().unwrap_or_default().to_owned();
    (reply.status.as_u16(), kind, reply.body)
}

fn with_ids(body: &Value, id_of: &dyn Fn(&str) -> String) -> Value {
    match body {
        Value::String(s) if s.starts_with('@') => Value::String(id_of(&s[1..])),
        Value::Array(items) => items.iter().map(|v| with_ids(v, id_of)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), with_ids(v, id_of)))
            .collect(),
        other => other.clone(),
    }
}

/// The victim's rows, table by table, once background work (deliveries, dispatch) has stopped
/// changing them.
async fn settled_snapshot(app: &TestApp, shape: Shape, brokerage: Uuid) -> Snapshot {
    let started = Instant::now();
    let mut previous = snapshot(app, shape, brokerage).await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let next = snapshot(app, shape, brokerage).await;
        if next == previous {
            return next;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the victim's rows never settled"
        );
        previous = next;
    }
}

type Snapshot = BTreeMap<String, Vec<String>>;

fn assert_same(before: &Snapshot, after: &Snapshot) {
    for (table, rows) in before {
        let now = &after[table];
        let gone: Vec<_> = rows.iter().filter(|r| !now.contains(r)).collect();
        let new: Vec<_> = now.iter().filter(|r| !rows.contains(r)).collect();
        assert!(
            gone.is_empty() && new.is_empty(),
            "another brokerage changed {table}: before {gone:#?}, after {new:#?}"
        );
    }
}

/// How a table's rows belong to a brokerage, or `None` for tables that hold no tenant data.
fn scope_of(table: &str, columns: &[String]) -> Option<String> {
    // The job queues' outbox: a request leaves when its run finishes, whoever is looking.
    if table == "job_requests" {
        return None;
    }
    if columns.iter().any(|c| c == "brokerage_id") {
        return Some("t.brokerage_id = $1".into());
    }
    match table {
        "brokerages" => Some("t.id = $1".into()),
        "api_keys" => Some("t.user_id IN (SELECT id FROM users WHERE brokerage_id = $1)".into()),
        "webhook_attempts" => Some(
            "t.delivery_id IN (SELECT id FROM webhook_deliveries WHERE brokerage_id = $1)".into(),
        ),
        "ws_tickets" => Some(
            "t.key_id IN (SELECT k.id FROM api_keys k JOIN users u ON u.id = k.user_id WHERE u.brokerage_id = $1)"
                .into(),
        ),
        // The service's own bookkeeping: keys, migrations, one-time start-up work, the response
        // cache, the job queue.
        "encryption_keys" | "plaintext_to_seal" | "predictions_to_backfill" | "llm_cache"
        | "troupe_migrations" | "_sqlx_migrations" => None,
        // Failed sign-ins are kept by email and address: they belong to no brokerage.
        "sign_in_failures" => None,
        apalis if apalis.starts_with("apalis") || apalis == "Jobs" || apalis == "Workers" => None,
        _ => panic!(
            "table {table} has no brokerage_id: say in tests/e2e/cross_tenant.rs scope_of how its rows belong to a brokerage"
        ),
    }
}

async fn snapshot(app: &TestApp, shape: Shape, brokerage: Uuid) -> Snapshot {
    let mut snapshot = Snapshot::new();
    match shape {
        Shape::Distributed => {
            let pool = app.postgres().await;
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::TEXT FROM information_schema.tables
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            for table in tables {
                let columns: Vec<String> = sqlx::query_scalar(
                    "SELECT column_name::TEXT FROM information_schema.columns
                     WHERE table_schema = 'public' AND table_name = $1",
                )
                .bind(&table)
                .fetch_all(&pool)
                .await
                .unwrap();
                let Some(scope) = scope_of(&table, &columns) else {
                    continue;
                };
                let sql =
                    format!("SELECT CAST(row_to_json(t) AS TEXT) FROM {table} t WHERE {scope}");
                let mut rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(brokerage)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                rows.sort();
                snapshot.insert(table, rows);
            }
            pool.close().await;
        }
        Shape::Embedded => {
            let url = format!("{}?mode=ro", app.vars["TROUPE_DATABASE_URL"]);
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                        .bind(&table)
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                let Some(scope) = scope_of(&table, &columns) else {
                    continue;
                };
                let row = columns
                    .iter()
                    .map(|c| format!("quote(t.\"{c}\")"))
                    .collect::<Vec<_>>()
                    .join(" || '|' || ");
                let sql = format!("SELECT {row} FROM \"{table}\" t WHERE {scope}");
                let mut rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(brokerage)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                rows.sort();
                snapshot.insert(table, rows);
            }
            pool.close().await;
        }
    }
    snapshot
}
