//! Live progress over WebSocket: a focus group run by a worker process reaches a socket on the
//! API (through Redis in the distributed shape), in sequence, and a resumed socket skips nothing.

use std::time::Duration;

use futures::StreamExt;
use mock_llm::MockConfig;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};
use troupe_shared::domain::Role;

use crate::helpers::{Options, Shape, TestApp, both_shapes, seed};

both_shapes!(a_socket_sees_progress_then_completion_and_resumes_without_gaps);
both_shapes!(a_persona_socket_hears_each_enrichment);

/// Everything the socket sent until the server closed it, and the close code.
async fn watch(app: &TestApp, path: &str, key: Option<&str>) -> (Vec<Value>, u16) {
    let url = format!("{}{path}", app.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    if let Some(key) = key {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket opens");
    let mut messages = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .expect("the socket keeps talking");
        match next {
            Some(Ok(Message::Text(text))) => messages.push(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => {
                return (messages, frame.map_or(1005, |f| u16::from(f.code)));
            }
            Some(Ok(_)) => {}
            other => panic!("socket ended without a close frame: {other:?}"),
        }
    }
}

async fn refused_status(app: &TestApp, path: &str, key: Option<&str>) -> u16 {
    let url = format!("{}{path}", app.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    if let Some(key) = key {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        other => panic!("expected a refused handshake, got {other:?}"),
    }
}

async fn a_socket_sees_progress_then_completion_and_resumes_without_gaps(shape: Shape) {
    // Slow replies: the run lasts long enough for several progress reports.
    let app = TestApp::spawn_with(
        shape,
        Options {
            mock: MockConfig {
                latency_ms: (150, 250),
                ..MockConfig::default()
            },
            ..Options::default()
        },
    )
    .await;
    let property_id = seed(&app).await;
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({
                "property_id": property_id,
                "persona_segments": ["finance", "tech"],
                "questions": ["First impression?", "Would you buy?", "What would you change?"],
                "modifications_to_test": [],
            }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let path = format!("/ws/simulations/{id}");

    // Another brokerage's key, no key, and a used ticket are refused before the upgrade.
    let outsider = app
        .key_for("Rival Estates", None, "mallory", Role::BrokerageAdmin)
        .await;
    assert_eq!(refused_status(&app, &path, Some(&outsider)).await, 404);
    assert_eq!(refused_status(&app, &path, None).await, 401);

    let (live, code) = watch(&app, &path, Some(&app.key)).await;
    assert_eq!(code, 1000, "{live:#?}");
    assert_eq!(live[0]["type"], "state");
    let events = &live[1..];
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.last(), Some(&"simulation.completed"), "{kinds:?}");
    assert!(kinds.contains(&"simulation.progress"), "{kinds:?}");
    let sequences: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    let first = live[0]["sequence"].as_i64().unwrap() + 1;
    let contiguous: Vec<i64> = (first..first + sequences.len() as i64).collect();
    assert_eq!(sequences, contiguous, "no gaps, no repeats");
    let done: Vec<i64> = events
        .iter()
        .filter(|e| e["type"] == "simulation.progress")
        .map(|e| e["data"]["done"].as_i64().unwrap())
        .collect();
    assert!(done.windows(2).all(|w| w[0] < w[1]), "{done:?}");
    assert!(events.last().unwrap()["data"]["summary"].is_string());
    // Each persona's answer arrived live, once, before the summary.
    let answers: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "simulation.progress")
        .flat_map(|e| e["data"]["answers"].as_array().unwrap())
        .collect();
    let results = app.get(&format!("/api/v1/simulations/{id}/results")).await;
    let raw = results.body["results"]["raw_responses"].as_array().unwrap();
    assert_eq!(answers.len(), raw.len());
    for response in raw {
        assert!(
            answers
                .iter()
                .any(|a| a["persona_id"] == response["persona_id"]
                    && a["step"] == response["step"]
                    && a["answer"] == response["answer"]),
            "{response} was not sent live"
        );
    }

    // Resuming after the first event replays every later one, exactly.
    let (resumed, code) = watch(&app, &format!("{path}?after=1"), Some(&app.key)).await;
    assert_eq!(code, 1000);
    assert_eq!(resumed[0]["simulation"]["status"], "completed");
    let replayed: Vec<i64> = resumed[1..]
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    let total = app
        .events()
        .await
        .iter()
        .filter(|e| e.subject_id.to_string() == id)
        .count() as i64;
    assert_eq!(replayed, (2..=total).collect::<Vec<_>>());

    // A browser's ticket works once.
    let ticket = app
        .request(Method::POST, "/api/v1/ws-tickets", Some(&app.key), None)
        .await;
    assert_eq!(ticket.status, 200, "{}", ticket.body);
    let with_ticket = format!("{path}?ticket={}", ticket.body["ticket"].as_str().unwrap());
    let (state, code) = watch(&app, &with_ticket, None).await;
    assert_eq!(
        (state.len(), code),
        (1, 1000),
        "a finished run: its state, then close"
    );
    assert_eq!(refused_status(&app, &with_ticket, None).await, 401);
}

/// `/ws/personas/{id}`: the persona as it is, then a `persona.enriched` message per enrichment run
/// (written by a worker, in another process in the distributed shape).
async fn a_persona_socket_hears_each_enrichment(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let created = app
        .create_persona(&crate::helpers::persona(
            "Iris Vance",
            "finance",
            &[],
            &[],
            2e7,
        ))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let url = format!("{}/ws/personas/{id}", app.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    let bearer = format!("Bearer {}", app.key).parse().unwrap();
    request.headers_mut().insert("authorization", bearer);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket opens");
    let mut next_text = async || loop {
        let next = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("a message in time");
        if let Some(Ok(Message::Text(text))) = next {
            return serde_json::from_str::<Value>(&text).unwrap();
        }
    };
    let state = next_text().await;
    assert_eq!(state["type"], "state", "{state}");
    assert_eq!(state["persona"]["version"], 1);

    let call = json!({ "sources": [{ "kind": "transcript", "occurred_on": "2026-05-05",
        "content": "Client: Our budget is now up to $25M." }] });
    let run = crate::enrichment::enrich(&app, &id, &call).await;
    let event = next_text().await;
    assert_eq!(event["type"], "persona.enriched", "{event}");
    assert_eq!(event["data"]["enrichment_id"], run["id"]);
    assert_eq!(event["data"]["version"], 2);
    assert!(
        !event.to_string().contains("budget is now"),
        "no source text: {event}"
    );
}
