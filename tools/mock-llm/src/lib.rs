//! An OpenAI-compatible chat-completions server for tests and benchmarks. It answers Troupe's
//! persona prompts with persona-aware JSON (reading the tagged persona and listing sections), with
//! configurable latency, a requests-per-minute limit enforced like OpenAI's (429 with
//! `retry-after` and `x-ratelimit-*` headers), scripted faults and counters.

mod persona;

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use poem::{
    EndpointExt, Response, Route, Server, get, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::{Data, Json},
};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct MockConfig {
    pub bind: SocketAddr,
    /// Each reply waits a uniform random time in this range (milliseconds).
    pub latency_ms: (u64, u64),
    /// Requests per minute before answering 429 (none: unlimited).
    pub rpm: Option<u64>,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            bind: "127.0.0.1:0".parse().expect("valid address"),
            latency_ms: (0, 0),
            rpm: None,
        }
    }
}

/// A fault to answer the next `count` requests with.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Fault {
    /// `status` answers with that HTTP status; `malformed` with truncated JSON content;
    /// `garbage` with prose instead of JSON.
    pub kind: String,
    #[serde(default)]
    pub status: Option<u16>,
    pub count: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    pub requests: u64,
    pub completed: u64,
    pub rate_limited: u64,
    pub faults: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    completed: AtomicU64,
    rate_limited: AtomicU64,
    faults: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
}

struct State {
    config: MockConfig,
    counters: Counters,
    faults: Mutex<Vec<Fault>>,
    window: Mutex<(Instant, u64)>,
}

/// A running mock; dropped, it keeps serving until the runtime ends.
pub struct MockLlm {
    addr: SocketAddr,
    state: Arc<State>,
}

impl MockLlm {
    pub async fn start(config: MockConfig) -> std::io::Result<MockLlm> {
        let acceptor = TcpListener::bind(config.bind).into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| std::io::Error::other("no local address"))?;
        let state = Arc::new(State {
            config,
            counters: Counters::default(),
            faults: Mutex::new(Vec::new()),
            window: Mutex::new((Instant::now(), 0)),
        });
        let app = Route::new()
            .at("/v1/chat/completions", post(chat))
            .at("/stats", get(stats))
            .at("/control/faults", post(push_fault))
            .data(state.clone());
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Ok(MockLlm { addr, state })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL an OpenAI-compatible client should use.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn stats(&self) -> Stats {
        snapshot(&self.state.counters)
    }

    /// Answers the next `fault.count` requests with the fault.
    pub fn inject(&self, fault: Fault) {
        self.state.faults.lock().expect("fault lock").push(fault);
    }
}

fn snapshot(c: &Counters) -> Stats {
    Stats {
        requests: c.requests.load(Ordering::Relaxed),
        completed: c.completed.load(Ordering::Relaxed),
        rate_limited: c.rate_limited.load(Ordering::Relaxed),
        faults: c.faults.load(Ordering::Relaxed),
        prompt_tokens: c.prompt_tokens.load(Ordering::Relaxed),
        completion_tokens: c.completion_tokens.load(Ordering::Relaxed),
    }
}

#[handler]
fn stats(state: Data<&Arc<State>>) -> Json<Stats> {
    Json(snapshot(&state.counters))
}

#[handler]
fn push_fault(state: Data<&Arc<State>>, fault: Json<Fault>) -> StatusCode {
    state.faults.lock().expect("fault lock").push(fault.0);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct ChatBody {
    model: String,
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Message {
    content: String,
}

#[handler]
async fn chat(state: Data<&Arc<State>>, body: Json<ChatBody>) -> Response {
    let state = state.0.clone();
    let counters = &state.counters;
    counters.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(retry_after) = over_limit(&state) {
        counters.rate_limited.fetch_add(1, Ordering::Relaxed);
        return Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("retry-after", format!("{:.3}", retry_after.as_secs_f64()))
            .header("x-ratelimit-limit-requests", state.config.rpm.unwrap_or(0))
            .header("x-ratelimit-remaining-requests", 0)
            .header("x-ratelimit-reset-requests", format!("{}ms", retry_after.as_millis()))
            .content_type("application/json")
            .body(json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}).to_string());
    }
    let (low, high) = state.config.latency_ms;
    if high > 0 {
        let wait = rand::rng().random_range(low..=high.max(low));
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    let fault = next_fault(&state);
    if let Some(Fault {
        status: Some(status),
        ..
    }) = fault.as_ref().filter(|f| f.kind == "status")
    {
        counters.faults.fetch_add(1, Ordering::Relaxed);
        return Response::builder()
            .status(StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .content_type("application/json")
            .body(
                json!({"error": {"message": "injected fault", "type": "server_error"}}).to_string(),
            );
    }
    let prompt: String = body
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let content = match fault.as_ref().map(|f| f.kind.as_str()) {
        Some("malformed") => {
            counters.faults.fetch_add(1, Ordering::Relaxed);
            "{\"answer\": \"I was about to say".to_owned()
        }
        Some("garbage") => {
            counters.faults.fetch_add(1, Ordering::Relaxed);
            "As an AI language model I cannot role-play a buyer.".to_owned()
        }
        _ => persona::reply(&prompt).to_string(),
    };
    let prompt_tokens = (prompt.len() / 4) as u64;
    let completion_tokens = (content.len() / 4) as u64;
    counters
        .prompt_tokens
        .fetch_add(prompt_tokens, Ordering::Relaxed);
    counters
        .completion_tokens
        .fetch_add(completion_tokens, Ordering::Relaxed);
    counters.completed.fetch_add(1, Ordering::Relaxed);
    let reply: Value = json!({
        "id": format!("chatcmpl-mock-{}", counters.requests.load(Ordering::Relaxed)),
        "object": "chat.completion",
        "model": body.model,
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                   "total_tokens": prompt_tokens + completion_tokens }
    });
    Response::builder()
        .content_type("application/json")
        .body(reply.to_string())
}

/// A fixed one-minute window: how long until the window resets, when this request is over.
fn over_limit(state: &State) -> Option<Duration> {
    let rpm = state.config.rpm?;
    let mut window = state.window.lock().expect("window lock");
    let elapsed = window.0.elapsed();
    if elapsed >= Duration::from_secs(60) {
        *window = (Instant::now(), 0);
    }
    window.1 += 1;
    (window.1 > rpm).then(|| Duration::from_secs(60).saturating_sub(window.0.elapsed()))
}

fn next_fault(state: &State) -> Option<Fault> {
    let mut faults = state.faults.lock().expect("fault lock");
    let fault = faults.first_mut()?;
    fault.count = fault.count.saturating_sub(1);
    let taken = fault.clone();
    if fault.count == 0 {
        faults.remove(0);
    }
    Some(taken)
}
