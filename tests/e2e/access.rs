//! The access matrices: every persona endpoint, and every simulation endpoint, × every kind of
//! caller × every visibility, against the rules (brief §10). Anything a caller may not see answers
//! 404 — never 403, which is kept for a visible record the caller may not change — and never
//! shows up in their lists. A simulation is as visible as the least visible client in it; a
//! listing's match run shows each caller the clients they see, a client's run is seen by who sees
//! the client.

use std::{collections::HashMap, time::Duration};

use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use troupe_shared::domain::Role;

use crate::{
    helpers::{Shape, TestApp, both_shapes, persona},
    matching::{client, listing},
};

both_shapes!(
    every_persona_endpoint_follows_the_visibility_rules,
    a_simulation_is_seen_only_by_who_sees_every_client_in_it,
    a_match_run_shows_each_caller_only_the_clients_they_see
);

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Caller {
    Owner,
    SameTeamAgent,
    OtherTeamAgent,
    TeamLead,
    Admin,
    Deactivated,
    OtherBrokerageAdmin,
}

const CALLERS: [Caller; 7] = [
    Caller::Owner,
    Caller::SameTeamAgent,
    Caller::OtherTeamAgent,
    Caller::TeamLead,
    Caller::Admin,
    Caller::Deactivated,
    Caller::OtherBrokerageAdmin,
];
const VISIBILITIES: [&str; 3] = ["private", "team", "brokerage"];
const ENDPOINTS: [&str; 12] = [
    "get", "list", "update", "patch", "enrich", "history", "graph", "facts", "insights", "export",
    "simulate", "delete",
];

/// Whether `caller` sees a persona of `visibility` owned by an agent of team West.
fn sees(caller: Caller, visibility: &str) -> bool {
    match caller {
        Caller::Owner => true,
        Caller::SameTeamAgent | Caller::TeamLead => visibility != "private",
        Caller::OtherTeamAgent | Caller::Admin => visibility == "brokerage",
        Caller::Deactivated | Caller::OtherBrokerageAdmin => false,
    }
}

/// The status `endpoint` answers `caller` for a persona of `visibility`.
fn expected(endpoint: &str, caller: Caller, visibility: &str) -> u16 {
    if caller == Caller::Deactivated {
        return 401;
    }
    if endpoint == "list" {
        return 200;
    }
    if !sees(caller, visibility) {
        return 404;
    }
    // Agents change only their own; team leads and admins any they can see.
    let writes = matches!(endpoint, "update" | "patch" | "enrich" | "delete");
    match (endpoint, writes) {
        (_, true) if matches!(caller, Caller::SameTeamAgent | Caller::OtherTeamAgent) => 403,
        // A shared client is the brokerage's: by default only a team lead of their team or an
        // admin deletes them, not their owner (tests/e2e/deletion.rs has the other setting).
        ("delete", _) if caller == Caller::Owner && visibility != "private" => 403,
        ("delete", _) => 204,
        ("simulate" | "enrich", _) => 202,
        _ => 200,
    }
}

/// A key for each kind of caller (the deactivated one's user deactivated by the admin).
async fn callers(app: &TestApp) -> HashMap<Caller, String> {
    let mut keys = HashMap::new();
    keys.insert(
        Caller::Owner,
        app.key_for("Acme Realty", Some("West"), "olivia", Role::Agent)
            .await,
    );
    keys.insert(
        Caller::SameTeamAgent,
        app.key_for("Acme Realty", Some("West"), "sam", Role::Agent)
            .await,
    );
    keys.insert(
        Caller::OtherTeamAgent,
        app.key_for("Acme Realty", Some("East"), "otto", Role::Agent)
            .await,
    );
    keys.insert(
        Caller::TeamLead,
        app.key_for("Acme Realty", Some("West"), "tess", Role::TeamLead)
            .await,
    );
    keys.insert(
        Caller::Admin,
        app.key_for("Acme Realty", None, "ada-admin", Role::BrokerageAdmin)
            .await,
    );
    keys.insert(
        Caller::OtherBrokerageAdmin,
        app.key_for("Rival Estates", None, "rex", Role::BrokerageAdmin)
            .await,
    );
    let departed = app
        .key_for("Acme Realty", Some("West"), "dora", Role::Agent)
        .await;
    keys.insert(Caller::Deactivated, departed.clone());
    let departed_id = app
        .request(
            Method::GET,
            "/api/v1/users",
            Some(&keys[&Caller::Admin]),
            None,
        )
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "dora")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deactivated = app
        .request(
            Method::POST,
            &format!("/api/v1/users/{departed_id}/deactivate"),
            Some(&keys[&Caller::Admin]),
            None,
        )
        .await;
    assert_eq!(deactivated.status, 200, "{}", deactivated.body);

    keys
}

async fn every_persona_endpoint_follows_the_visibility_rules(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let keys = callers(&app).await;
    let owner = keys[&Caller::Owner].clone();
    let create = |visibility: &str, name: String| {
        let mut body = persona(&name, "finance", &["wine cellar"], &[], 3e7);
        body["visibility"] = json!(visibility);
        let owner = owner.clone();
        let app = &app;
        async move {
            let reply = app
                .request(Method::POST, "/api/v1/personas", Some(&owner), Some(&body))
                .await;
            assert_eq!(reply.status, 201, "{}", reply.body);
            reply.body
        }
    };

    let mut cells = 0;
    let mut failures = Vec::new();
    for visibility in VISIBILITIES {
        let shared = create(visibility, format!("Client {visibility}")).await;
        let id = shared["id"].as_str().unwrap().to_owned();
        for caller in CALLERS {
            let key = &keys[&caller];
            for endpoint in ENDPOINTS {
                // Each delete gets a persona of its own, so one success does not decide the next.
                let target = if endpoint == "delete" {
                    create(visibility, format!("Doomed {visibility} {caller:?}")).await["id"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                } else {
                    id.clone()
                };
                let path = format!("/api/v1/personas/{target}");
                let reply = match endpoint {
                    "get" => app.request(Method::GET, &path, Some(key), None).await,
                    "list" => {
                        app.request(Method::GET, "/api/v1/personas?limit=200", Some(key), None)
                            .await
                    }
                    "update" => {
                        let mut body = shared.clone();
                        body["version"] = Value::Null;
                        app.request(Method::PUT, &path, Some(key), Some(&body))
                            .await
                    }
                    "patch" => {
                        app.raw(
                            app.client()
                                .patch(format!("{}{path}", app.base))
                                .bearer_auth(key)
                                .header("content-type", "application/merge-patch+json")
                                .body(json!({ "biography": "seen" }).to_string()),
                        )
                        .await
                    }
                    "enrich" => {
                        let note = format!("Met {caller:?} about the {visibility} file.");
                        let body = json!({ "internal_notes": note });
                        app.request(
                            Method::POST,
                            &format!("{path}/enrich"),
                            Some(key),
                            Some(&body),
                        )
                        .await
                    }
                    "history" | "facts" | "insights" | "export" => {
                        let path = format!("{path}/{endpoint}");
                        app.request(Method::GET, &path, Some(key), None).await
                    }
                    "graph" => {
                        let path = format!("{path}/graph?depth=2");
                        app.request(Method::GET, &path, Some(key), None).await
                    }
                    "simulate" => {
                        let body = json!({ "persona_id": target, "scenario": { "type": "call", "context": { "purpose": "hello" } } });
                        app.request(
                            Method::POST,
                            "/api/v1/simulations/individual",
                            Some(key),
                            Some(&body),
                        )
                        .await
                    }
                    "delete" => app.request(Method::DELETE, &path, Some(key), None).await,
                    _ => unreachable!(),
                };
                cells += 1;
                let want = expected(endpoint, caller, visibility);
                let mut ok = reply.status.as_u16() == want;
                if endpoint == "list" && want == 200 {
                    let listed = reply.body["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["id"] == id.as_str());
                    ok &= listed == sees(caller, visibility);
                }
                if !ok {
                    failures.push(format!(
                        "{endpoint} by {caller:?} on {visibility}: expected {want}, got {} {}",
                        reply.status, reply.body
                    ));
                }
            }
        }
    }
    println!(
        "access matrix: {} endpoints × {} callers × {} visibilities = {cells} cells, {} failures",
        ENDPOINTS.len(),
        CALLERS.len(),
        VISIBILITIES.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

const SIMULATION_ENDPOINTS: [&str; 6] = [
    "status",
    "results",
    "list",
    "list_by_persona",
    "socket",
    "cancel",
];

/// The status a simulation endpoint answers `caller` for a finished individual simulation of the
/// owner's on a persona of `visibility` (a socket that opens answers 101).
fn expected_for_simulation(endpoint: &str, caller: Caller, visibility: &str) -> u16 {
    if caller == Caller::Deactivated {
        return 401;
    }
    if endpoint == "list" {
        return 200;
    }
    if !sees(caller, visibility) {
        return 404;
    }
    match endpoint {
        "socket" => 101,
        // Finished; and only its submitter, team leads and admins may cancel at all.
        "cancel" if matches!(caller, Caller::SameTeamAgent | Caller::OtherTeamAgent) => 403,
        "cancel" => 409,
        _ => 200,
    }
}

async fn socket_status(app: &TestApp, path: &str, key: &str) -> u16 {
    let url = format!("{}{path}", app.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => 101,
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("{path}: {other}"),
    }
}

async fn a_simulation_is_seen_only_by_who_sees_every_client_in_it(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let keys = callers(&app).await;
    let owner = keys[&Caller::Owner].clone();
    let mut cells = 0;
    let mut failures = Vec::new();
    for visibility in VISIBILITIES {
        let mut body = persona(
            &format!("Client {visibility}"),
            "finance",
            &["wine cellar"],
            &[],
            3e7,
        );
        body["visibility"] = json!(visibility);
        let created = app
            .request(Method::POST, "/api/v1/personas", Some(&owner), Some(&body))
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let persona_id = created.body["id"].as_str().unwrap().to_owned();
        // Notes for this run only: what must never reach a caller who may not see the client.
        let run = json!({ "persona_id": persona_id,
            "scenario": { "type": "call", "context": { "purpose": "hello" } },
            "enrichment_data": { "internal_notes": "Secret: divorce pending" } });
        let accepted = app
            .request(
                Method::POST,
                "/api/v1/simulations/individual",
                Some(&owner),
                Some(&run),
            )
            .await;
        assert_eq!(accepted.status, 202, "{}", accepted.body);
        let id = accepted.body["id"].as_str().unwrap().to_owned();
        let started = std::time::Instant::now();
        loop {
            let status = app
                .request(
                    Method::GET,
                    &format!("/api/v1/simulations/{id}/status"),
                    Some(&owner),
                    None,
                )
                .await;
            if status.body["status"] == "completed" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{}",
                status.body
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        for caller in CALLERS {
            let key = &keys[&caller];
            for endpoint in SIMULATION_ENDPOINTS {
                let base = format!("/api/v1/simulations/{id}");
                let (status, body) = match endpoint {
                    "status" | "results" => {
                        let reply = app
                            .request(Method::GET, &format!("{base}/{endpoint}"), Some(key), None)
                            .await;
                        (reply.status.as_u16(), reply.body)
                    }
                    "list" | "list_by_persona" => {
                        let query = if endpoint == "list" {
                            String::new()
                        } else {
                            format!("?persona_id={persona_id}")
                        };
                        let reply = app
                            .request(
                                Method::GET,
                                &format!("/api/v1/simulations{query}"),
                                Some(key),
                                None,
                            )
                            .await;
                        (reply.status.as_u16(), reply.body)
                    }
                    "socket" => {
                        let path = format!("/ws/simulations/{id}");
                        (socket_status(&app, &path, key).await, Value::Null)
                    }
                    "cancel" => {
                        let reply = app
                            .request(Method::POST, &format!("{base}/cancel"), Some(key), None)
                            .await;
                        (reply.status.as_u16(), reply.body)
                    }
                    _ => unreachable!(),
                };
                cells += 1;
                let want = expected_for_simulation(endpoint, caller, visibility);
                let mut ok = status == want;
                if status == 200 && endpoint.starts_with("list") {
                    let listed = body["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|s| s["id"] == id.as_str());
                    ok &= listed == sees(caller, visibility);
                }
                if body.to_string().contains("divorce") && !sees(caller, visibility) {
                    ok = false;
                }
                if !ok {
                    failures.push(format!(
                        "{endpoint} by {caller:?} on a {visibility} client's run: expected {want}, got {status} {body}"
                    ));
                }
            }
        }
    }
    // Reading results and opening a socket are audited reads.
    let audit = app
        .request(
            Method::GET,
            "/api/v1/audit?limit=500",
            Some(&keys[&Caller::Admin]),
            None,
        )
        .await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in ["simulation.results_read", "simulation.watched"] {
        assert!(
            actions.contains(&action),
            "{action} not audited: {actions:?}"
        );
    }
    println!(
        "simulation access matrix: {} endpoints × {} callers × {} visibilities = {cells} cells, {} failures",
        SIMULATION_ENDPOINTS.len(),
        CALLERS.len(),
        VISIBILITIES.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Submits a match as `key` and waits for it to complete; the run's id.
async fn match_run(app: &TestApp, key: &str, path: &str, body: Value) -> String {
    let accepted = app
        .request(Method::POST, path, Some(key), Some(&body))
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    loop {
        let run = app
            .request(
                Method::GET,
                &format!("/api/v1/matching/{id}"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(run.status, 200, "{}", run.body);
        match run.body["status"].as_str() {
            Some("completed") => return id,
            Some("failed") => panic!("match run failed: {}", run.body),
            _ => assert!(started.elapsed() < Duration::from_secs(30), "{}", run.body),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn a_match_run_shows_each_caller_only_the_clients_they_see(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let keys = callers(&app).await;
    let owner = &keys[&Caller::Owner];
    let mut clients = HashMap::new();
    for visibility in VISIBILITIES {
        let mut body = client(
            &format!("{visibility} client"),
            &["wine cellar"],
            &[],
            "Malibu",
            30e6,
        );
        body["visibility"] = json!(visibility);
        let created = app
            .request(Method::POST, "/api/v1/personas", Some(owner), Some(&body))
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        clients.insert(visibility, created.body["id"].as_str().unwrap().to_owned());
    }
    let house = app
        .request(
            Method::POST,
            "/api/v1/properties",
            Some(owner),
            Some(&listing(
                "Cellar House",
                "Malibu",
                25e6,
                &["wine cellar"],
                "",
            )),
        )
        .await;
    assert_eq!(house.status, 201, "{}", house.body);
    let listing_run = match_run(
        &app,
        owner,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": house.body["id"] }),
    )
    .await;
    let private_run = match_run(
        &app,
        owner,
        "/api/v1/matching/client-to-properties",
        json!({ "persona_id": clients["private"] }),
    )
    .await;

    for caller in CALLERS {
        let key = &keys[&caller];
        let recommended = app
            .request(
                Method::GET,
                &format!("/api/v1/matching/{listing_run}/recommendations"),
                Some(key),
                None,
            )
            .await;
        let about_private = app
            .request(
                Method::GET,
                &format!("/api/v1/matching/{private_run}"),
                Some(key),
                None,
            )
            .await;
        match caller {
            Caller::Deactivated => {
                assert_eq!(
                    (recommended.status.as_u16(), about_private.status.as_u16()),
                    (401, 401)
                );
                continue;
            }
            Caller::OtherBrokerageAdmin => {
                assert_eq!(
                    (recommended.status.as_u16(), about_private.status.as_u16()),
                    (404, 404)
                );
                continue;
            }
            _ => {}
        }
        assert_eq!(recommended.status, 200, "{caller:?}: {}", recommended.body);
        let mut names: Vec<&str> = recommended.body["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["persona_name"].as_str().unwrap())
            .collect();
        names.sort();
        let mut seen: Vec<String> = VISIBILITIES
            .iter()
            .filter(|v| sees(caller, v))
            .map(|v| format!("{v} client"))
            .collect();
        seen.sort();
        assert_eq!(
            names, seen,
            "{caller:?} sees exactly their clients in the run"
        );

        let sees_private = sees(caller, "private");
        assert_eq!(
            about_private.status,
            if sees_private { 200 } else { 404 },
            "{caller:?}: the run about the private client"
        );
        let listed = app
            .request(Method::GET, "/api/v1/matching?limit=100", Some(key), None)
            .await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        let listed_private = listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|run| run["id"] == private_run.as_str());
        assert_eq!(
            listed_private, sees_private,
            "{caller:?}: the run in their list"
        );
    }
}
