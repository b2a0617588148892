//! Webhooks end to end: a real receiver over HTTP, signatures checked by the reference
//! `standardwebhooks` library, retries through refused connections and 500s, a worker killed
//! mid-delivery, the SSRF guard, disabling and re-enabling, and admin-only management.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::domain::Role;

use crate::{
    helpers::{Options, Shape, TestApp, both_shapes, seed},
    receiver::{Receiver, verify_with_reference_library},
};

both_shapes!(
    a_completed_simulation_is_delivered_signed,
    an_endpoint_that_is_down_gets_the_event_when_it_returns,
    internal_addresses_are_refused_at_creation_and_at_delivery,
    an_endpoint_failing_too_long_is_disabled_until_re_enabled,
    only_a_brokerage_s_admins_manage_its_webhooks,
);

/// Short retries, private receivers allowed, and a lease that ends soon after a killed worker.
fn push_options(allow_private: bool) -> Options {
    Options {
        vars: vec![
            ("TROUPE_WEBHOOK_ALLOW_PRIVATE", allow_private.to_string()),
            ("TROUPE_WEBHOOK_RETRY_SCHEDULE", ["200ms"; 12].join(",")),
            ("TROUPE_WEBHOOK_TIMEOUT_SECS", "2".to_owned()),
            ("TROUPE_WEBHOOK_POLL_MS", "50".to_owned()),
        ],
        ..Options::default()
    }
}

async fn admin_key(app: &TestApp) -> String {
    app.key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await
}

async fn subscribe(app: &TestApp, key: &str, body: &Value) -> Value {
    let reply = app
        .request(Method::POST, "/api/v1/webhooks", Some(key), Some(body))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert!(reply.body["secret"].as_str().unwrap().starts_with("whsec_"));
    reply.body
}

async fn run_focus_group(app: &TestApp) -> String {
    let property_id = seed(app).await;
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({
                "property_id": property_id,
                "persona_segments": ["finance"],
                "questions": ["First impression?"],
                "modifications_to_test": [],
            }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    accepted.body["id"].as_str().unwrap().to_owned()
}

/// Polls the delivery log until `done` holds for the newest delivery.
async fn wait_for_delivery(
    app: &TestApp,
    key: &str,
    webhook_id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = std::time::Instant::now();
    loop {
        let page = app
            .request(
                Method::GET,
                &format!("/api/v1/webhooks/{webhook_id}/deliveries"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        if let Some(first) = page.body["items"]
            .as_array()
            .and_then(|items| items.first())
        {
            let id = first["id"].as_str().unwrap();
            let delivery = app
                .request(
                    Method::GET,
                    &format!("/api/v1/webhooks/{webhook_id}/deliveries/{id}"),
                    Some(key),
                    None,
                )
                .await
                .body;
            if done(&delivery) {
                return delivery;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "delivery never got there: {}",
            page.body
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn a_completed_simulation_is_delivered_signed(shape: Shape) {
    let app = TestApp::spawn_with(shape, push_options(true)).await;
    let admin = admin_key(&app).await;
    let receiver = Receiver::start().await;
    let webhook = subscribe(
        &app,
        &admin,
        &json!({ "url": receiver.url(), "description": "CRM" }),
    )
    .await;
    assert_eq!(
        webhook["event_types"],
        json!([
            "matching.completed",
            "persona.enriched",
            "simulation.cancelled",
            "simulation.completed",
            "simulation.failed"
        ])
    );
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    let simulation = run_focus_group(&app).await;

    let received = receiver
        .wait_for(Duration::from_secs(60), |r| !r.is_empty())
        .await;
    assert_eq!(
        received.len(),
        1,
        "only the subscribed outcome: {received:#?}"
    );
    let body = received[0].json();
    assert_eq!(body["type"], "simulation.completed");
    assert_eq!(body["subject_id"], simulation.as_str());
    assert_eq!(body["data"]["simulation_id"], simulation.as_str());
    // started = 1, completed last: receivers can order one simulation's events.
    assert!(body["sequence"].as_i64().unwrap() >= 2, "{body}");
    assert!(received[0].webhook_id().starts_with("msg_"));
    assert_eq!(verify_with_reference_library(&secret, &received), 1);

    let delivery = wait_for_delivery(&app, &admin, webhook["id"].as_str().unwrap(), |d| {
        d["status"] == "succeeded"
    })
    .await;
    assert_eq!(delivery["attempts"], 1);
    assert_eq!(delivery["attempt_log"][0]["status_code"], 200);

    // A test ping, and a rotated secret: both secrets sign during the overlap.
    let rotated = app
        .request(
            Method::POST,
            &format!(
                "/api/v1/webhooks/{}/rotate-secret",
                webhook["id"].as_str().unwrap()
            ),
            Some(&admin),
            Some(&json!({ "overlap_hours": 1 })),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let ping = app
        .request(
            Method::POST,
            &format!("/api/v1/webhooks/{}/ping", webhook["id"].as_str().unwrap()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(ping.status, 202, "{}", ping.body);
    let received = receiver
        .wait_for(Duration::from_secs(20), |r| r.len() == 2)
        .await;
    assert_eq!(received[1].json()["type"], "webhook.ping");
    let signatures = &received[1].headers["webhook-signature"];
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    assert_eq!(
        verify_with_reference_library(&new_secret, &received[1..]),
        1
    );
    assert_eq!(verify_with_reference_library(&secret, &received[1..]), 1);

    // Redelivery sends the same message under the same id.
    let redeliver = app
        .request(
            Method::POST,
            &format!(
                "/api/v1/webhooks/{}/deliveries/{}/redeliver",
                webhook["id"].as_str().unwrap(),
                delivery["id"].as_str().unwrap()
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(redeliver.status, 202, "{}", redeliver.body);
    let received = receiver
        .wait_for(Duration::from_secs(20), |r| r.len() == 3)
        .await;
    assert_eq!(received[2].webhook_id(), received[0].webhook_id());
    assert_eq!(received[2].body, received[0].body);
}

async fn an_endpoint_that_is_down_gets_the_event_when_it_returns(shape: Shape) {
    let app = TestApp::spawn_with(shape, push_options(true)).await;
    let admin = admin_key(&app).await;
    let receiver = Receiver::reserve().await;
    let webhook = subscribe(&app, &admin, &json!({ "url": receiver.url() })).await;
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    run_focus_group(&app).await;

    // Connection refused, twice at least, then two 500s, then it comes back.
    wait_for_delivery(&app, &admin, &webhook_id, |d| {
        d["attempts"].as_i64().unwrap_or(0) >= 2
    })
    .await;
    receiver.answer(&[500, 500], Duration::ZERO);
    receiver.listen().await;
    let delivery =
        wait_for_delivery(&app, &admin, &webhook_id, |d| d["status"] == "succeeded").await;
    let log = delivery["attempt_log"].as_array().unwrap();
    let refused = log
        .iter()
        .take_while(|a| a["status_code"].is_null())
        .count();
    assert!(refused >= 2, "{log:#?}");
    assert!(
        log[0]["error"].as_str().unwrap().contains("connect"),
        "{log:#?}"
    );
    let answered: Vec<_> = log[refused..]
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(answered, [json!(500), json!(500), json!(200)]);

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert!(
        received
            .iter()
            .all(|r| r.webhook_id() == received[0].webhook_id())
    );
    assert!(received.iter().all(|r| r.body == received[0].body));
    assert_eq!(
        verify_with_reference_library(webhook["secret"].as_str().unwrap(), &received),
        3
    );
    let webhook = app
        .request(
            Method::GET,
            &format!("/api/v1/webhooks/{webhook_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert!(webhook.body["failing_since"].is_null(), "{}", webhook.body);
}

async fn internal_addresses_are_refused_at_creation_and_at_delivery(shape: Shape) {
    let app = TestApp::spawn_with(shape, push_options(false)).await;
    let admin = admin_key(&app).await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]/hook",
        "file:///etc/passwd",
    ] {
        let reply = app
            .request(
                Method::POST,
                "/api/v1/webhooks",
                Some(&admin),
                Some(&json!({ "url": url })),
            )
            .await;
        assert_eq!(
            reply.problem(422),
            "https://troupe.dev/problems/validation-failed",
            "{url}"
        );
    }
    // A webhook stored before its name pointed inside (DNS rebinding): refused when sent.
    let receiver = Receiver::start().await;
    let store = app.store().await;
    let provisioned = store
        .provision_key("Acme Realty", None, "rebinder", Role::BrokerageAdmin)
        .await
        .unwrap();
    let (key_id, _) = troupe_shared::auth::parse_token(&provisioned.token).unwrap();
    let (rebinder, _) = store.principal_for_key(key_id).await.unwrap().unwrap();
    // Once by address, once by a name that resolves to it.
    let by_name = receiver.url().replace("127.0.0.1", "localhost");
    for url in [receiver.url(), by_name] {
        let webhook = store
            .create_webhook(
                rebinder.as_admin().expect("provisioned as an admin"),
                &troupe_shared::store::NewWebhook {
                    url: url.clone(),
                    description: String::new(),
                    event_types: troupe_shared::domain::EventType::OUTCOMES.to_vec(),
                    secret: troupe_shared::auth::new_webhook_secret(),
                },
            )
            .await
            .unwrap();
        let ping = app
            .request(
                Method::POST,
                &format!("/api/v1/webhooks/{}/ping", webhook.id),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(ping.status, 202);
        let delivery = wait_for_delivery(&app, &admin, &webhook.id.to_string(), |d| {
            d["attempts"].as_i64().unwrap_or(0) >= 1
        })
        .await;
        let error = delivery["attempt_log"][0]["error"].as_str().unwrap();
        assert!(error.contains("refused"), "{url}: {error}");
        assert!(
            error.contains("127.0.0.1") || error.contains("::1"),
            "{url}: {error}"
        );
    }
    assert!(receiver.received().is_empty());
}

async fn an_endpoint_failing_too_long_is_disabled_until_re_enabled(shape: Shape) {
    let mut options = push_options(true);
    options
        .vars
        .push(("TROUPE_WEBHOOK_DISABLE_AFTER_HOURS", "0".to_owned()));
    let app = TestApp::spawn_with(shape, options).await;
    let admin = admin_key(&app).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[503], Duration::ZERO);
    let webhook = subscribe(&app, &admin, &json!({ "url": receiver.url() })).await;
    let path = format!("/api/v1/webhooks/{}", webhook["id"].as_str().unwrap());
    app.request(Method::POST, &format!("{path}/ping"), Some(&admin), None)
        .await;
    let started = std::time::Instant::now();
    let disabled = loop {
        let current = app
            .request(Method::GET, &path, Some(&admin), None)
            .await
            .body;
        if current["enabled"] == false {
            break current;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{current}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let reason = disabled["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("\"enabled\": true"), "{reason}");
    // Disabled: the pending retry is not sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1);

    let enabled = app
        .request(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(&json!({ "enabled": true })),
        )
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert_eq!(enabled.body["enabled"], true);
    assert!(enabled.body["disabled_reason"].is_null());
    app.request(Method::POST, &format!("{path}/ping"), Some(&admin), None)
        .await;
    receiver
        .wait_for(Duration::from_secs(20), |r| r.len() == 2)
        .await;
}

async fn only_a_brokerage_s_admins_manage_its_webhooks(shape: Shape) {
    let app = TestApp::spawn_with(shape, push_options(true)).await;
    let admin = admin_key(&app).await;
    let receiver = Receiver::start().await;
    let reply = app
        .request(
            Method::POST,
            "/api/v1/webhooks",
            Some(&app.key),
            Some(&json!({ "url": receiver.url() })),
        )
        .await;
    assert_eq!(reply.problem(403), "https://troupe.dev/problems/forbidden");
    let webhook = subscribe(
        &app,
        &admin,
        &json!({ "url": receiver.url(), "event_types": ["simulation.progress"] }),
    )
    .await;
    let path = format!("/api/v1/webhooks/{}", webhook["id"].as_str().unwrap());
    let outsider = app
        .key_for("Rival Estates", None, "boss", Role::BrokerageAdmin)
        .await;
    for (method, suffix) in [
        (Method::GET, ""),
        (Method::DELETE, ""),
        (Method::POST, "/ping"),
        (Method::GET, "/deliveries"),
    ] {
        let reply = app
            .request(
                method.clone(),
                &format!("{path}{suffix}"),
                Some(&outsider),
                None,
            )
            .await;
        assert_eq!(
            reply.problem(404),
            "https://troupe.dev/problems/not-found",
            "{method} {suffix}"
        );
    }
    let listed = app
        .request(Method::GET, "/api/v1/webhooks", Some(&outsider), None)
        .await;
    assert_eq!(listed.body["items"], json!([]));
    // Bad input is a 4xx problem, not a 500.
    let reply = app
        .request(
            Method::POST,
            "/api/v1/webhooks",
            Some(&admin),
            Some(&json!({ "url": receiver.url(), "event_types": ["simulation.exploded"] })),
        )
        .await;
    assert!(reply.status.is_client_error(), "{}", reply.body);
    let deleted = app.request(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(deleted.status, 204);
    let gone = app.request(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(gone.problem(404), "https://troupe.dev/problems/not-found");
}

/// A worker killed while an endpoint is taking the request: another worker sends the same
/// message (same `webhook-id`) once the dead one's lease ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_a_delivery_survives_its_worker_being_killed() {
    let mut app = TestApp::spawn_with(Shape::Distributed, push_options(true)).await;
    let admin = admin_key(&app).await;
    let receiver = Receiver::start().await;
    // The first request hangs past the kill.
    receiver.answer(&[200], Duration::from_secs(30));
    let webhook = subscribe(&app, &admin, &json!({ "url": receiver.url() })).await;
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    app.request(
        Method::POST,
        &format!("/api/v1/webhooks/{webhook_id}/ping"),
        Some(&admin),
        None,
    )
    .await;
    receiver
        .wait_for(Duration::from_secs(20), |r| r.len() == 1)
        .await;
    for worker in &mut app.workers {
        worker.kill().await.unwrap();
    }
    app.start_worker();
    let received = receiver
        .wait_for(Duration::from_secs(30), |r| r.len() == 2)
        .await;
    assert_eq!(received[0].webhook_id(), received[1].webhook_id());
    let delivery =
        wait_for_delivery(&app, &admin, &webhook_id, |d| d["status"] == "succeeded").await;
    let log = delivery["attempt_log"].as_array().unwrap();
    assert_eq!(log.last().unwrap()["status_code"], 200, "{delivery}");
    assert_eq!(
        verify_with_reference_library(webhook["secret"].as_str().unwrap(), &received),
        2
    );
}

both_shapes!(an_event_is_recorded_only_with_its_change);

/// The outbox row is written by the statement's own transaction: a write that changes nothing
/// (a finished simulation, a superseded run) records no event, and nothing reaches the endpoint.
async fn an_event_is_recorded_only_with_its_change(shape: Shape) {
    let app = TestApp::spawn_with(shape, push_options(true)).await;
    let admin = admin_key(&app).await;
    let receiver = Receiver::start().await;
    subscribe(
        &app,
        &admin,
        &json!({ "url": receiver.url(), "event_types": ["simulation.failed", "simulation.progress", "simulation.completed"] }),
    )
    .await;
    let id = run_focus_group(&app).await;
    app.wait_for_final(&id, Duration::from_secs(60)).await;
    // Deliveries are unordered: wait for every one the outbox holds, not just the completion.
    let subscribed = app
        .events()
        .await
        .iter()
        .filter(|e| {
            matches!(
                e.kind.as_str(),
                "simulation.failed" | "simulation.progress" | "simulation.completed"
            )
        })
        .count();
    receiver
        .wait_for(Duration::from_secs(20), |r| r.len() >= subscribed)
        .await;
    let before = app.events().await.len();
    let store = app.store().await;
    let id: uuid::Uuid = id.parse().unwrap();
    assert!(
        !store
            .fail_simulation(id, None, "too late", None)
            .await
            .unwrap()
    );
    let stale_run = uuid::Uuid::new_v4();
    assert_eq!(
        store
            .record_progress(id, stale_run, (1, 0), Some(&[]))
            .await
            .unwrap(),
        troupe_shared::store::ProgressAck::Superseded
    );
    assert_eq!(app.events().await.len(), before);
    let delivered = receiver.received().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), delivered);

    // Retention: once delivered, old events go with their delivery log.
    let webhook_id = app
        .request(Method::GET, "/api/v1/webhooks", Some(&admin), None)
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = std::time::Instant::now();
    loop {
        let page = app
            .request(
                Method::GET,
                &format!("/api/v1/webhooks/{webhook_id}/deliveries?limit=200"),
                Some(&admin),
                None,
            )
            .await
            .body;
        let items = page["items"].as_array().unwrap();
        if items.iter().all(|d| d["status"] == "succeeded") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{page}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let purged = troupe_scheduler::purge_expired(&store, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(purged.events as usize, before);
    assert!(app.events().await.is_empty());
}
