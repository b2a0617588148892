//! Changes to the client book and the listings go out as events, in the change's transaction:
//! `persona.created`, `persona.updated` (the fields that changed, never the client's words) and
//! `persona.deleted` (the id alone),
//! `property.created`, `property.updated` and `property.status_changed` — to webhooks that
//! subscribe and to the persona's socket.

use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
use troupe_shared::domain::Role;

use crate::{
    helpers::{Options, Shape, TestApp, both_shapes, listing, persona},
    receiver::Receiver,
};

both_shapes!(changes_to_clients_and_listings_go_out_as_events);

async fn changes_to_clients_and_listings_go_out_as_events(shape: Shape) {
    let options = Options {
        vars: vec![
            ("TROUPE_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
            ("TROUPE_WEBHOOK_POLL_MS", "50".to_owned()),
        ],
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    let receiver = Receiver::start().await;
    let kinds = [
        "persona.created",
        "persona.updated",
        "persona.deleted",
        "property.created",
        "property.status_changed",
    ];
    let subscribed = app
        .request(
            Method::POST,
            "/api/v1/webhooks",
            Some(&admin),
            Some(&json!({ "url": receiver.url(), "event_types": kinds })),
        )
        .await;
    assert_eq!(subscribed.status, 201, "{}", subscribed.body);

    let mut client = persona("Harrison Vale", "finance", &["wine cellar"], &[], 30e6);
    client["biography"] = json!("Sold his fund in 2026; discreet.");
    let created = app.create_persona(&client).await;
    let persona_id = created["id"].as_str().unwrap().to_owned();

    // The persona's socket hears the update.
    let url = format!(
        "{}/ws/personas/{persona_id}",
        app.base.replace("http://", "ws://")
    );
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", app.key).parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    client["preferences"]["budget"]["max"] = json!(45e6);
    let replaced = app
        .request(
            Method::PUT,
            &format!("/api/v1/personas/{persona_id}"),
            Some(&app.key),
            Some(&client),
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    let heard = loop {
        let next = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("the socket hears the update");
        if let Some(Ok(Message::Text(text))) = next {
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["type"] == "persona.updated" {
                break message;
            }
        }
    };
    assert_eq!(heard["data"]["fields"], json!(["preferences"]), "{heard}");

    let property = app.create_property(&listing()).await;
    let property_id = property["id"].as_str().unwrap().to_owned();
    let mut sold = listing();
    sold["status"] = json!("sold");
    let updated = app
        .request(
            Method::PUT,
            &format!("/api/v1/properties/{property_id}"),
            Some(&app.key),
            Some(&sold),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);

    let events = app.events().await;
    let of = |kind: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| &e.payload)
            .collect()
    };
    assert_eq!(of("persona.created").len(), 1);
    assert_eq!(of("persona.updated")[0]["fields"], json!(["preferences"]));
    assert_eq!(
        of("property.created")[0]["property_id"],
        property_id.as_str()
    );
    assert_eq!(of("property.updated")[0]["fields"], json!(["status"]));
    let moved = of("property.status_changed");
    assert_eq!(
        (moved[0]["from"].as_str(), moved[0]["to"].as_str()),
        (Some("active"), Some("sold"))
    );
    // The client's words stay out of every event.
    let all =
        serde_json::to_string(&events.iter().map(|e| &e.payload).collect::<Vec<_>>()).unwrap();
    assert!(
        !all.contains("discreet") && !all.contains("45000000"),
        "{all}"
    );

    // The subscribed webhook gets the four kinds it asked for (not property.updated).
    let received = receiver
        .wait_for(Duration::from_secs(20), |r| r.len() >= 4)
        .await;
    let mut got: Vec<String> = received
        .iter()
        .map(|m| m.json()["type"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "persona.created",
            "persona.updated",
            "property.created",
            "property.status_changed"
        ]
    );

    // Erased, the client is announced by their id alone, for the CRM to follow.
    // An admin answering an erasure request erases at once (a deletion waits for its window).
    let gone = app
        .request(
            Method::DELETE,
            &format!("/api/v1/personas/{persona_id}?erase=now"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    let received = receiver
        .wait_for(Duration::from_secs(20), |r| r.len() >= 5)
        .await;
    let deleted = received
        .iter()
        .map(|m| m.json())
        .find(|m| m["type"] == "persona.deleted")
        .expect("persona.deleted delivered");
    assert_eq!(
        deleted["data"],
        json!({ "persona_id": persona_id, "external_ids": {} })
    );
}
