//! Webhook dispatchers on several workers claim due deliveries at once: in PostgreSQL (where the
//! claim skips rows another dispatcher has locked) each delivery goes to exactly one claimer and
//! none is left behind. This guards the claim's correctness; the deadlock that `SKIP LOCKED`
//! removes showed under bench/push.sh's load and does not reproduce at this size.

use std::collections::BTreeSet;

use chrono::Utc;
use reqwest::Method;
use serde_json::json;
use troupe_shared::domain::Role;

use crate::helpers::{Options, Shape, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_dispatchers_claim_each_delivery_once() {
    let app = TestApp::spawn_with(
        Shape::Distributed,
        Options {
            workers: 0,
            vars: vec![("TROUPE_WEBHOOK_ALLOW_PRIVATE", "true".to_owned())],
            ..Options::default()
        },
    )
    .await;
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    let webhook = app
        .request(
            Method::POST,
            "/api/v1/webhooks",
            Some(&admin),
            Some(&json!({ "url": "http://127.0.0.1:9/hook" })),
        )
        .await;
    assert_eq!(webhook.status, 201, "{}", webhook.body);
    let id = webhook.body["id"].as_str().unwrap();
    let mut pinged = BTreeSet::new();
    for _ in 0..200 {
        let ping = app
            .request(
                Method::POST,
                &format!("/api/v1/webhooks/{id}/ping"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(ping.status, 202, "{}", ping.body);
        pinged.insert(ping.body["delivery_id"].as_str().unwrap().to_owned());
    }

    // Four dispatchers, each with its own pool, claiming small batches until none are due.
    let mut claimers = Vec::new();
    for _ in 0..4 {
        let store = app.store().await;
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let lease = Utc::now() + chrono::Duration::minutes(5);
                let batch = store
                    .claim_due_deliveries(lease, 5)
                    .await
                    .expect("claiming");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch);
            }
        }));
    }
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.unwrap());
    }
    let unique: BTreeSet<String> = claimed.iter().map(ToString::to_string).collect();
    assert_eq!(
        unique.len(),
        claimed.len(),
        "a delivery was handed out twice"
    );
    assert_eq!(unique, pinged, "every due delivery is claimed");
}
