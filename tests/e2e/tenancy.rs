//! Every query is scoped by brokerage, and personas by visibility: what a caller may not see
//! answers 404, exactly as if it did not exist.

use reqwest::Method;
use serde_json::json;
use troupe_shared::domain::Role;

use crate::helpers::{Options, Shape, TestApp, both_shapes, persona, seed};

both_shapes!(
    another_brokerage_sees_nothing,
    private_personas_stay_with_their_agent
);

async fn another_brokerage_sees_nothing(shape: Shape) {
    let app = TestApp::spawn_with(
        shape,
        Options {
            workers: 1,
            ..Options::default()
        },
    )
    .await;
    let property_id = seed(&app).await;
    let persona_id = app.get("/api/v1/personas").await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({ "property_id": property_id, "persona_ids": [persona_id], "questions": ["?"] }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let simulation_id = accepted.body["id"].as_str().unwrap().to_owned();

    let rival = app
        .key_for("Rival Estates", None, "mallory", Role::BrokerageAdmin)
        .await;
    let rival = Some(rival.as_str());
    for path in [
        format!("/api/v1/personas/{persona_id}"),
        format!("/api/v1/properties/{property_id}"),
        format!("/api/v1/simulations/{simulation_id}/status"),
        format!("/api/v1/simulations/{simulation_id}/results"),
    ] {
        app.request(Method::GET, &path, rival, None)
            .await
            .problem(404);
    }
    let replacement = persona("Hijacked", "tech", &[], &[], 1.0);
    app.request(
        Method::PUT,
        &format!("/api/v1/personas/{persona_id}"),
        rival,
        Some(&replacement),
    )
    .await
    .problem(404);
    app.request(
        Method::DELETE,
        &format!("/api/v1/personas/{persona_id}"),
        rival,
        None,
    )
    .await
    .problem(404);
    let steal = json!({ "property_id": property_id, "persona_ids": [persona_id] });
    app.request(
        Method::POST,
        "/api/v1/simulations/focus-group",
        rival,
        Some(&steal),
    )
    .await
    .problem(404);
    let listed = app
        .request(Method::GET, "/api/v1/personas", rival, None)
        .await;
    assert_eq!(listed.body["items"], json!([]));

    // The owner's data is untouched.
    let own = app.get(&format!("/api/v1/personas/{persona_id}")).await;
    assert_eq!(own.status, 200);
    assert_ne!(own.body["name"], "Hijacked");
}

async fn private_personas_stay_with_their_agent(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let mut private = persona("Quiet Client", "tech", &[], &[], 1e7);
    private["visibility"] = json!("private");
    let id = app.create_persona(&private).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut shared = persona("Team Client", "tech", &[], &[], 1e7);
    shared["visibility"] = json!("team");
    let team_id = app.create_persona(&shared).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let teammate = app
        .key_for("Acme Realty", Some("West"), "bob", Role::Agent)
        .await;
    let outsider = app
        .key_for("Acme Realty", Some("East"), "carol", Role::Agent)
        .await;
    app.request(
        Method::GET,
        &format!("/api/v1/personas/{id}"),
        Some(&teammate),
        None,
    )
    .await
    .problem(404);
    let seen = app
        .request(
            Method::GET,
            &format!("/api/v1/personas/{team_id}"),
            Some(&teammate),
            None,
        )
        .await;
    assert_eq!(seen.status, 200);
    // A teammate may read a team persona but not change another agent's client.
    let edit = app
        .request(
            Method::PUT,
            &format!("/api/v1/personas/{team_id}"),
            Some(&teammate),
            Some(&shared),
        )
        .await;
    assert!(edit.problem(403).ends_with("/forbidden"));
    app.request(
        Method::GET,
        &format!("/api/v1/personas/{team_id}"),
        Some(&outsider),
        None,
    )
    .await
    .problem(404);
    let outsider_list = app
        .request(Method::GET, "/api/v1/personas", Some(&outsider), None)
        .await;
    assert_eq!(outsider_list.body["items"], json!([]));
}
