//! Push delivery under load: 1,000 individual simulations complete while 200 WebSocket clients
//! each watch one of them and 5 webhook endpoints subscribed to `simulation.completed` receive
//! (one of them answers 500 half the time, so its events arrive through retries).
//!
//! Per endpoint and over the sockets it prints events delivered ÷ events emitted (the outbox's
//! count is the reference; target 1.0 after retries), deliveries of one event under more than
//! one `webhook-id` (target 0), and commit → delivery latency: the event's `timestamp` (written
//! in its transaction) to its first arrival, p50/p99, for webhooks and for sockets (sockets count
//! events committed after they connected). Distributed shape, two worker processes, the mock LLM
//! at 50–150 ms. Ends with `push <measure>=<value>` lines. Needs PostgreSQL and Redis.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use mock_llm::{MockConfig, MockLlm};
use poem::{EndpointExt, Request, Route, handler, http::StatusCode, post, web::Data};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
use troupe::client::{ApiClient, is_final};
use troupe_bench::{Deployment, Scratch, quantile};
use troupe_shared::{Config, domain::Role};

const SIMULATIONS: usize = 1000;
const SOCKETS: usize = 200;
const ENDPOINTS: usize = 5;
const PERSONAS: usize = 20;

/// What one endpoint saw: webhook ids by event id, and each event's first arrival latency.
#[derive(Default)]
struct Inbox {
    ids_by_event: HashMap<String, HashSet<String>>,
    latency_ms: HashMap<String, f64>,
    requests: usize,
}

struct Endpoint {
    inbox: Mutex<Inbox>,
    /// Answers 500 to every other request.
    flaky: bool,
}

#[handler]
async fn receive(req: &Request, body: String, endpoint: Data<&Arc<Endpoint>>) -> StatusCode {
    let arrived = Utc::now();
    let mut inbox = endpoint.inbox.lock().unwrap();
    inbox.requests += 1;
    if endpoint.flaky && inbox.requests % 2 == 1 {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let Ok(event) = serde_json::from_str::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let event_id = event["id"].as_str().unwrap_or_default().to_owned();
    let webhook_id = req
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if let Some(committed) = timestamp(&event) {
        inbox
            .latency_ms
            .entry(event_id.clone())
            .or_insert_with(|| (arrived - committed).num_microseconds().unwrap_or(0) as f64 / 1e3);
    }
    inbox
        .ids_by_event
        .entry(event_id)
        .or_default()
        .insert(webhook_id);
    StatusCode::NO_CONTENT
}

fn timestamp(event: &Value) -> Option<DateTime<Utc>> {
    event["timestamp"].as_str()?.parse().ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!(
        "push bench: {SIMULATIONS} simulations, {SOCKETS} WebSocket clients, {ENDPOINTS} webhook endpoints (one failing half the time), distributed shape with 2 workers"
    );
    let mock = MockLlm::start(MockConfig {
        latency_ms: (50, 150),
        ..MockConfig::default()
    })
    .await?;
    let scratch = Scratch::distributed().await?;
    let mut vars = scratch.vars.clone();
    for (k, v) in [
        ("TROUPE_BIND", "127.0.0.1:0".to_owned()),
        ("TROUPE_LLM_BASE_URL", mock.base_url()),
        ("TROUPE_LLM_RPM", "1000000".to_owned()),
        ("TROUPE_LLM_TPM", "1000000000".to_owned()),
        ("TROUPE_LLM_CACHE_TTL_HOURS", "0".to_owned()),
        ("TROUPE_WORKER_CONCURRENCY", "16".to_owned()),
        ("TROUPE_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
        // 20 retries: an event reaches the endpoint that fails every other request unless 21
        // attempts in a row fail (p ≈ 5e-7). The default schedule has 7 (see the README).
        ("TROUPE_WEBHOOK_RETRY_SCHEDULE", ["500ms"; 20].join(",")),
        ("TROUPE_WEBHOOK_POLL_MS", "100".to_owned()),
        ("TROUPE_MATCHING_CRON", "0 0 0 1 1 * 2099".to_owned()),
        (
            "TROUPE_LOG",
            std::env::var("BENCH_LOG").unwrap_or_else(|_| "error".to_owned()),
        ),
    ] {
        vars.insert(k.into(), v);
    }
    let deployment = Deployment::start(vars.clone(), Some(2)).await?;
    let api = deployment.api.clone();
    let (store, _) = troupe::connect(&Config::from_vars(vars)?).await?;
    let admin = api.with_key(
        store
            .provision_key("Bench", None, "bench-admin", Role::BrokerageAdmin)
            .await?
            .token,
    );

    let endpoints = start_endpoints(&admin).await?;
    let personas = seed(&api).await?;

    let started = Instant::now();
    let mut simulations = Vec::with_capacity(SIMULATIONS);
    let mut sockets = Vec::with_capacity(SOCKETS);
    for i in 0..SIMULATIONS {
        let accepted = api
            .post(
                "/api/v1/simulations/individual",
                &json!({
                    "persona_id": personas[i % personas.len()],
                    "scenario": { "type": "call", "context": { "purpose": format!("introduce listing {i}") } },
                }),
            )
            .await?;
        let id = accepted["id"].as_str().context("id")?.to_owned();
        if i % (SIMULATIONS / SOCKETS) == 0 {
            sockets.push(tokio::spawn(watch(api.clone(), id.clone())));
        }
        simulations.push(id);
    }
    for id in &simulations {
        api.wait_for(
            id,
            is_final,
            Duration::from_millis(50),
            Duration::from_secs(600),
        )
        .await?;
    }
    let completed_in = started.elapsed();

    // The reference: what the outbox holds.
    let brokerage = store.brokerage_id("Bench").await?.context("brokerage")?;
    let events = store.events(brokerage, None, 100_000).await?;
    let completed: HashSet<String> = events
        .iter()
        .filter(|e| e.kind == "simulation.completed")
        .map(|e| e.id.to_string())
        .collect();
    let per_subject: HashMap<String, usize> = events.iter().fold(HashMap::new(), |mut m, e| {
        *m.entry(e.subject_id.to_string()).or_default() += 1;
        m
    });

    // Wait for every endpoint to have every event (the flaky one through retries).
    let deadline = Instant::now() + Duration::from_secs(300);
    while endpoints
        .iter()
        .any(|e| e.inbox.lock().unwrap().ids_by_event.len() < completed.len())
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered_in = started.elapsed();

    let webhooks = admin.get("/api/v1/webhooks").await?;
    let mut failed_deliveries = 0;
    for webhook in webhooks["items"].as_array().context("webhooks")? {
        let failed = admin
            .get(&format!(
                "/api/v1/webhooks/{}/deliveries?status=failed&limit=200",
                webhook["id"].as_str().context("id")?
            ))
            .await?;
        failed_deliveries += failed["items"].as_array().map_or(0, Vec::len);
    }

    // Where webhook latency goes: commit → fan-out (a delivery row exists) → first attempt.
    let db = sqlx::PgPool::connect(&scratch.vars["TROUPE_DATABASE_URL"]).await?;
    let stages: Vec<(f64, f64)> = sqlx::query_as(
        "SELECT (EXTRACT(EPOCH FROM d.created_at - e.created_at) * 1000)::float8,
                (EXTRACT(EPOCH FROM a.attempted_at - d.created_at) * 1000)::float8
         FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
         JOIN webhook_attempts a ON a.delivery_id = d.id AND a.attempt = 1",
    )
    .fetch_all(&db)
    .await?;
    db.close().await;
    let (mut fan_out, mut to_attempt): (Vec<f64>, Vec<f64>) = stages.into_iter().unzip();
    println!(
        "webhook stages: commit → delivery row p50={:.1} ms p99={:.1} ms; delivery row → first attempt p50={:.1} ms p99={:.1} ms",
        quantile(&mut fan_out, 0.5),
        quantile(&mut fan_out, 0.99),
        quantile(&mut to_attempt, 0.5),
        quantile(&mut to_attempt, 0.99)
    );

    let mut webhook_latencies = Vec::new();
    let mut duplicates = 0;
    let mut worst_webhook_ratio = f64::MAX;
    for (n, endpoint) in endpoints.iter().enumerate() {
        let inbox = endpoint.inbox.lock().unwrap();
        let delivered = completed
            .iter()
            .filter(|id| inbox.ids_by_event.contains_key(*id))
            .count();
        let ratio = delivered as f64 / completed.len() as f64;
        worst_webhook_ratio = worst_webhook_ratio.min(ratio);
        duplicates += inbox
            .ids_by_event
            .values()
            .map(|ids| ids.len().saturating_sub(1))
            .sum::<usize>();
        let mut own: Vec<f64> = inbox.latency_ms.values().copied().collect();
        webhook_latencies.extend(own.iter().copied());
        println!(
            "endpoint={n}{} emitted={} delivered={delivered} ratio={ratio:.3} requests={} p50_ms={:.1} p99_ms={:.1}",
            if endpoint.flaky {
                " (fails half the time)"
            } else {
                ""
            },
            completed.len(),
            inbox.requests,
            quantile(&mut own, 0.5),
            quantile(&mut own, 0.99),
        );
    }

    let mut socket_latencies = Vec::new();
    let mut worst_socket_ratio = f64::MAX;
    for socket in sockets {
        let (id, sequences, latencies) = socket.await??;
        let emitted = per_subject.get(&id).copied().unwrap_or(0);
        worst_socket_ratio = worst_socket_ratio.min(sequences.len() as f64 / emitted.max(1) as f64);
        socket_latencies.extend(latencies);
    }
    println!(
        "sockets={SOCKETS} worst delivered/emitted={worst_socket_ratio:.3}; simulations completed in {:.1} s, every webhook delivered by {:.1} s",
        completed_in.as_secs_f64(),
        delivered_in.as_secs_f64()
    );
    let (wh50, wh99) = (
        quantile(&mut webhook_latencies, 0.5),
        quantile(&mut webhook_latencies, 0.99),
    );
    let (ws50, ws99) = (
        quantile(&mut socket_latencies, 0.5),
        quantile(&mut socket_latencies, 0.99),
    );
    println!("push webhook_delivered_ratio_min={worst_webhook_ratio:.3}");
    println!("push websocket_delivered_ratio_min={worst_socket_ratio:.3}");
    println!("push duplicates_beyond_webhook_id={duplicates}");
    println!("push webhook_deliveries_failed={failed_deliveries}");
    println!("push webhook_commit_to_delivery_p50_ms={wh50:.1}");
    println!("push webhook_commit_to_delivery_p99_ms={wh99:.1}");
    println!("push websocket_commit_to_delivery_p50_ms={ws50:.1}");
    println!("push websocket_commit_to_delivery_p99_ms={ws99:.1}");
    deployment.stop();
    store.close().await;
    scratch.drop_database().await?;
    Ok(())
}

async fn start_endpoints(admin: &ApiClient) -> anyhow::Result<Vec<Arc<Endpoint>>> {
    let mut endpoints = Vec::new();
    for n in 0..ENDPOINTS {
        let endpoint = Arc::new(Endpoint {
            inbox: Mutex::default(),
            flaky: n == ENDPOINTS - 1,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let app = Route::new()
            .at("/hook", post(receive))
            .data(endpoint.clone());
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener)?;
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        admin
            .post(
                "/api/v1/webhooks",
                &json!({ "url": url, "event_types": ["simulation.completed"] }),
            )
            .await?;
        endpoints.push(endpoint);
    }
    Ok(endpoints)
}

/// Watches one simulation from its first event (`after=0`) until the server closes the socket;
/// returns the sequences received and the latency of those committed after connecting.
async fn watch(api: ApiClient, id: String) -> anyhow::Result<(String, HashSet<i64>, Vec<f64>)> {
    let url = format!(
        "{}/ws/simulations/{id}?after=0",
        api.base().replace("http://", "ws://")
    );
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {}", api.key()).parse()?);
    let connected = Utc::now();
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let mut sequences = HashSet::new();
    let mut latencies = Vec::new();
    while let Some(message) = socket.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        let arrived = Utc::now();
        let event: Value = serde_json::from_str(&text)?;
        if event["type"] == "state" {
            continue;
        }
        if let Some(committed) = timestamp(&event).filter(|t| *t >= connected) {
            latencies.push((arrived - committed).num_microseconds().unwrap_or(0) as f64 / 1e3);
        }
        sequences.insert(event["sequence"].as_i64().unwrap_or(-1));
    }
    Ok((id, sequences, latencies))
}

async fn seed(api: &ApiClient) -> anyhow::Result<Vec<Value>> {
    let mut ids = Vec::with_capacity(PERSONAS);
    for i in 0..PERSONAS {
        let persona = json!({
            "name": format!("Client {i}"), "segment": "finance", "visibility": "brokerage",
            "demographics": { "age_range": "45-55", "occupation": "Executive", "net_worth_range": "$100M+" },
            "preferences": { "features": ["wine cellar", "ocean views"], "deal_breakers": [], "budget": { "max": 3.0e7 } },
            "personality_traits": { "openness": 0.5 }
        });
        ids.push(api.post("/api/v1/personas", &persona).await?["id"].clone());
    }
    Ok(ids)
}
