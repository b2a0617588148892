//! An OpenAI-compatible chat-completions server for tests and benchmarks. It answers Troupe's
//! persona prompts with persona-aware JSON (reading the tagged persona and listing sections) and
//! behaves like a provider at its limit: requests and tokens per minute are token buckets
//! (capacity one minute's worth, refilled continuously), answered with 429 + `retry-after` when
//! empty, and every reply carries OpenAI's `x-ratelimit-*` headers. Latency is drawn from a range;
//! faults come by rate (5xx, hangs, malformed JSON) or scripted (`inject`, `POST /control/faults`;
//! `contradiction` answers a listing with a judgement that contradicts itself).
//! `GET /stats` reports totals and a per-second series.

mod facts;
mod limits;
mod persona;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
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

use limits::{Buckets, Verdict};

/// A hang lasts longer than any client timeout worth having.
const HANG: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct MockConfig {
    pub bind: SocketAddr,
    /// Each reply waits a uniform random time in this range (milliseconds).
    pub latency_ms: (u64, u64),
    /// Requests per minute (none: unlimited).
    pub rpm: Option<u64>,
    /// Tokens (prompt + completion) per minute (none: unlimited).
    pub tpm: Option<u64>,
    /// The buckets hold this many seconds' worth (a provider's is a minute).
    pub burst_seconds: u64,
    /// Share of requests answered 500.
    pub error_rate: f64,
    /// Share of requests that never answer.
    pub hang_rate: f64,
    /// Share of requests answered with truncated JSON content.
    pub malformed_rate: f64,
    /// Points of appeal added to the photo a prompt lists first: a model's position bias,
    /// which runs that show each persona its own photo order can measure (0: none).
    pub photo_position_bias: u8,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            bind: "127.0.0.1:0".parse().expect("valid address"),
            latency_ms: (0, 0),
            rpm: None,
            tpm: None,
            burst_seconds: 60,
            error_rate: 0.0,
            hang_rate: 0.0,
            malformed_rate: 0.0,
            photo_position_bias: 0,
        }
    }
}

/// A fault to answer the next `count` requests with.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Fault {
    /// `status` answers with that HTTP status; `malformed` with truncated JSON content;
    /// `garbage` with prose instead of JSON; `hang` never answers.
    pub kind: String,
    #[serde(default)]
    pub status: Option<u16>,
    pub count: u64,
}

/// Counters over the mock's life. Tokens are those of accepted (not rate-limited) requests.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Stats {
    pub requests: u64,
    pub completed: u64,
    /// Accepted chat requests being answered now, and the most there ever were at once.
    pub in_flight: u64,
    pub max_in_flight: u64,
    pub rate_limited: u64,
    pub faults: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// One entry per second since the mock started.
    pub series: Vec<Second>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Second {
    pub requests: u64,
    pub rate_limited: u64,
    pub tokens: u64,
}

struct State {
    config: MockConfig,
    started: Instant,
    stats: Mutex<Stats>,
    faults: Mutex<Vec<Fault>>,
    buckets: Mutex<Buckets>,
}

impl State {
    fn record(&self, update: impl FnOnce(&mut Stats, &mut Second)) {
        let second = self.started.elapsed().as_secs() as usize;
        let mut totals = self.stats.lock().expect("stats lock");
        if totals.series.len() <= second {
            totals.series.resize(second + 1, Second::default());
        }
        let mut entry = std::mem::take(&mut totals.series[second]);
        update(&mut totals, &mut entry);
        totals.series[second] = entry;
    }
}

/// One accepted chat request until its handler ends, answered or dropped by the client.
struct InFlight(Arc<State>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.record(|s, _| s.in_flight -= 1);
    }
}

/// A running mock; it serves until the runtime ends.
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
            buckets: Mutex::new(Buckets::new(config.rpm, config.tpm, config.burst_seconds)),
            config,
            started: Instant::now(),
            stats: Mutex::new(Stats::default()),
            faults: Mutex::new(Vec::new()),
        });
        let app = Route::new()
            .at("/v1/chat/completions", post(chat))
            .at("/v1/embeddings", post(embeddings))
            .at("/stats", get(stats_endpoint))
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
        self.state.stats.lock().expect("stats lock").clone()
    }

    /// Answers the next `fault.count` requests with the fault.
    pub fn inject(&self, fault: Fault) {
        self.state.faults.lock().expect("fault lock").push(fault);
    }
}

#[handler]
fn stats_endpoint(state: Data<&Arc<State>>) -> Json<Stats> {
    Json(state.stats.lock().expect("stats lock").clone())
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
    response_format: Option<ResponseFormat>,
}

#[derive(Deserialize)]
struct ResponseFormat {
    json_schema: Option<SchemaName>,
}

#[derive(Deserialize)]
struct SchemaName {
    name: String,
    #[serde(default)]
    schema: Value,
}

#[derive(Deserialize)]
struct Message {
    content: String,
}

#[handler]
async fn chat(state: Data<&Arc<State>>, body: Json<ChatBody>) -> Response {
    let state = state.0.clone();
    let prompt: String = body
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let prompt_tokens = count_tokens(&prompt);
    let verdict = state
        .buckets
        .lock()
        .expect("bucket lock")
        .admit(prompt_tokens);
    if let Verdict::Limited {
        retry_after,
        headers,
    } = verdict
    {
        state.record(|s, sec| {
            s.requests += 1;
            s.rate_limited += 1;
            sec.requests += 1;
            sec.rate_limited += 1;
        });
        let body = json!({"error": {"message": "Rate limit reached", "type": "tokens", "code": "rate_limit_exceeded"}});
        return with_headers(
            Response::builder().status(StatusCode::TOO_MANY_REQUESTS),
            &headers,
        )
        .header("retry-after", format!("{:.3}", retry_after.as_secs_f64()))
        .content_type("application/json")
        .body(body.to_string());
    }
    state.record(|s, sec| {
        s.requests += 1;
        s.prompt_tokens += prompt_tokens;
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        sec.requests += 1;
        sec.tokens += prompt_tokens;
    });
    let _answering = InFlight(state.clone());
    let (low, high) = state.config.latency_ms;
    if high > 0 {
        let wait = rand::rng().random_range(low..=high.max(low));
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    let fault = next_fault(&state);
    let fault_kind = fault.as_ref().map(|f| f.kind.as_str());
    if fault_kind.is_some() {
        state.record(|s, _| s.faults += 1);
    }
    match (fault_kind, fault.as_ref().and_then(|f| f.status)) {
        (Some("hang"), _) => tokio::time::sleep(HANG).await,
        (Some("status"), status) => {
            let status = status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Response::builder()
                .status(status)
                .content_type("application/json")
                .body(
                    json!({"error": {"message": "injected fault", "type": "server_error"}})
                        .to_string(),
                );
        }
        _ => {}
    }
    let content = match fault_kind {
        Some("malformed") => "{\"answer\": \"I was about to say".to_owned(),
        Some("garbage") => "As an AI language model I cannot role-play a buyer.".to_owned(),
        _ => {
            let schema = body
                .response_format
                .as_ref()
                .and_then(|f| f.json_schema.as_ref());
            let name = schema.map(|s| s.name.as_str());
            match name {
                Some("persona_facts") => facts::reply(&prompt).to_string(),
                _ => {
                    let typed = schema.map(|s| &s.schema["properties"]["typed_answer"]);
                    let mut reply = persona::reply(name, typed.filter(|t| !t.is_null()), &prompt);
                    if fault_kind == Some("contradiction") {
                        persona::contradict(&mut reply, &prompt);
                    }
                    persona::favour_first_photo(
                        &mut reply,
                        &prompt,
                        state.config.photo_position_bias,
                    );
                    reply.to_string()
                }
            }
        }
    };
    let completion_tokens = count_tokens(&content);
    let headers = state
        .buckets
        .lock()
        .expect("bucket lock")
        .charge(completion_tokens);
    state.record(|s, sec| {
        s.completed += 1;
        s.completion_tokens += completion_tokens;
        sec.tokens += completion_tokens;
    });
    let reply: Value = json!({
        "id": format!("chatcmpl-mock-{}", rand::rng().random::<u64>()),
        "object": "chat.completion",
        "model": body.model,
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                   "total_tokens": prompt_tokens + completion_tokens }
    });
    with_headers(Response::builder(), &headers)
        .content_type("application/json")
        .body(reply.to_string())
}

#[derive(Deserialize)]
struct EmbeddingsBody {
    model: String,
    input: Vec<String>,
}

/// Deterministic embeddings: hashed bags of words, so texts sharing words lie close together.
#[handler]
fn embeddings(state: Data<&Arc<State>>, body: Json<EmbeddingsBody>) -> Response {
    let tokens: u64 = body.input.iter().map(|t| count_tokens(t)).sum();
    state.record(|s, sec| {
        s.requests += 1;
        s.completed += 1;
        s.prompt_tokens += tokens;
        sec.requests += 1;
        sec.tokens += tokens;
    });
    let data: Vec<Value> = body
        .input
        .iter()
        .enumerate()
        .map(|(index, text)| json!({ "object": "embedding", "index": index, "embedding": persona::embedding(text) }))
        .collect();
    let reply = json!({ "object": "list", "model": body.model, "data": data,
                        "usage": { "prompt_tokens": tokens, "total_tokens": tokens } });
    Response::builder()
        .content_type("application/json")
        .body(reply.to_string())
}

fn with_headers(
    mut builder: poem::ResponseBuilder,
    headers: &[(&'static str, String)],
) -> poem::ResponseBuilder {
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
}

/// Tokens as OpenAI's current models count them.
fn count_tokens(text: &str) -> u64 {
    tiktoken_rs::o200k_base_singleton()
        .encode_with_special_tokens(text)
        .len() as u64
}

/// A scripted fault first; otherwise one drawn by the configured rates.
fn next_fault(state: &State) -> Option<Fault> {
    {
        let mut faults = state.faults.lock().expect("fault lock");
        if let Some(fault) = faults.first_mut() {
            fault.count = fault.count.saturating_sub(1);
            let taken = fault.clone();
            if fault.count == 0 {
                faults.remove(0);
            }
            return Some(taken);
        }
    }
    let config = &state.config;
    let draw: f64 = rand::rng().random();
    let one = |kind: &str, status| {
        Some(Fault {
            kind: kind.into(),
            status,
            count: 1,
        })
    };
    if draw < config.error_rate {
        one("status", Some(500))
    } else if draw < config.error_rate + config.hang_rate {
        one("hang", None)
    } else if draw < config.error_rate + config.hang_rate + config.malformed_rate {
        one("malformed", None)
    } else {
        None
    }
}
