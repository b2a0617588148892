//! Admins manage teams, users and keys; a departed agent is deactivated (their key fails at
//! once) and their personas — private ones included — go to a colleague without the admin ever
//! reading them.

use reqwest::Method;
use serde_json::json;
use troupe_shared::domain::Role;

use crate::helpers::{Shape, TestApp, both_shapes, persona};

both_shapes!(a_departed_agent_s_personas_stay_with_the_brokerage);

async fn a_departed_agent_s_personas_stay_with_the_brokerage(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    let call = |method: Method, path: &str, key: &str, body: Option<serde_json::Value>| {
        let (path, key) = (path.to_owned(), key.to_owned());
        let app = &app;
        async move { app.request(method, &path, Some(&key), body.as_ref()).await }
    };

    let team = call(
        Method::POST,
        "/api/v1/teams",
        &admin,
        Some(json!({ "name": "East" })),
    )
    .await;
    assert_eq!(team.status, 201, "{}", team.body);
    let team_id = team.body["id"].as_str().unwrap().to_owned();
    let duplicate = call(
        Method::POST,
        "/api/v1/teams",
        &admin,
        Some(json!({ "name": "East" })),
    )
    .await;
    assert_eq!(
        duplicate.problem(409),
        "https://troupe.dev/problems/conflict"
    );

    let mut keys = Vec::new();
    let mut ids = Vec::new();
    for name in ["dana", "eli"] {
        let user = call(
            Method::POST,
            "/api/v1/users",
            &admin,
            Some(json!({ "name": name, "role": "agent", "team_id": team_id })),
        )
        .await;
        assert_eq!(user.status, 201, "{}", user.body);
        let id = user.body["id"].as_str().unwrap().to_owned();
        let key = call(
            Method::POST,
            &format!("/api/v1/users/{id}/keys"),
            &admin,
            None,
        )
        .await;
        assert_eq!(key.status, 201, "{}", key.body);
        keys.push(key.body["token"].as_str().unwrap().to_owned());
        ids.push(id);
    }
    let (dana_key, eli_key) = (&keys[0], &keys[1]);

    // Dana keeps a private client; nobody else sees it, the admin included.
    let mut secret_client = persona("Victor", "finance", &["wine cellar"], &[], 4e7);
    secret_client["visibility"] = json!("private");
    let created = call(
        Method::POST,
        "/api/v1/personas",
        dana_key,
        Some(secret_client),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let persona_path = format!("/api/v1/personas/{}", created.body["id"].as_str().unwrap());
    for key in [&admin, eli_key] {
        assert_eq!(
            call(Method::GET, &persona_path, key, None)
                .await
                .problem(404),
            "https://troupe.dev/problems/not-found"
        );
    }

    // Reassigning an active agent's personas is refused; deactivation stops the key at once.
    let reassign_path = format!("/api/v1/users/{}/reassign-personas", ids[0]);
    let early = call(
        Method::POST,
        &reassign_path,
        &admin,
        Some(json!({ "to_user_id": ids[1] })),
    )
    .await;
    assert_eq!(early.problem(409), "https://troupe.dev/problems/conflict");
    let deactivated = call(
        Method::POST,
        &format!("/api/v1/users/{}/deactivate", ids[0]),
        &admin,
        None,
    )
    .await;
    assert_eq!(deactivated.status, 200, "{}", deactivated.body);
    assert_eq!(deactivated.body["active"], false);
    assert_eq!(
        call(Method::GET, "/api/v1/personas", dana_key, None)
            .await
            .status,
        401
    );
    let listed = call(
        Method::GET,
        &format!("/api/v1/users/{}/keys", ids[0]),
        &admin,
        None,
    )
    .await;
    assert!(listed.body[0]["revoked_at"].is_string(), "{}", listed.body);
    assert!(
        !listed.body.to_string().contains("trp_"),
        "keys are listed without secrets"
    );

    let moved = call(
        Method::POST,
        &reassign_path,
        &admin,
        Some(json!({ "to_user_id": ids[1] })),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["reassigned"], 1);
    // Eli now holds the client (still private); the admin still cannot read it.
    let held = call(Method::GET, &persona_path, eli_key, None).await;
    assert_eq!(held.status, 200, "{}", held.body);
    assert_eq!(held.body["name"], "Victor");
    assert_eq!(held.body["visibility"], "private");
    assert_eq!(
        call(Method::GET, &persona_path, &admin, None).await.status,
        404
    );
    let log = call(
        Method::GET,
        "/api/v1/audit?action=persona.reassigned",
        &admin,
        None,
    )
    .await;
    assert_eq!(
        log.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        log.body
    );

    // Rotation: the old key stops, the new one works.
    let eli_keys = call(
        Method::GET,
        &format!("/api/v1/users/{}/keys", ids[1]),
        &admin,
        None,
    )
    .await;
    let key_id = eli_keys.body[0]["id"].as_str().unwrap().to_owned();
    let rotated = call(
        Method::POST,
        &format!("/api/v1/keys/{key_id}/rotate"),
        &admin,
        None,
    )
    .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let new_key = rotated.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(Method::GET, &persona_path, eli_key, None).await.status,
        401
    );
    assert_eq!(
        call(Method::GET, &persona_path, &new_key, None)
            .await
            .status,
        200
    );
    let new_id = rotated.body["id"].as_str().unwrap();
    assert_eq!(
        call(
            Method::DELETE,
            &format!("/api/v1/keys/{new_id}"),
            &admin,
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(Method::GET, &persona_path, &new_key, None)
            .await
            .status,
        401
    );

    // Only admins manage people; another brokerage's admin finds nothing of ours.
    assert_eq!(
        call(Method::GET, "/api/v1/users", &app.key, None)
            .await
            .problem(403),
        "https://troupe.dev/problems/forbidden"
    );
    let outsider = app
        .key_for("Rival Estates", None, "boss", Role::BrokerageAdmin)
        .await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/users/{}", ids[1])),
        (Method::POST, format!("/api/v1/users/{}/deactivate", ids[1])),
        (Method::POST, format!("/api/v1/users/{}/keys", ids[1])),
    ] {
        assert_eq!(
            call(method, &path, &outsider, None).await.problem(404),
            "https://troupe.dev/problems/not-found",
            "{path}"
        );
    }
    let theirs = call(Method::GET, "/api/v1/users", &outsider, None).await;
    assert_eq!(
        theirs.body["items"].as_array().unwrap().len(),
        1,
        "only their own admin"
    );
}
