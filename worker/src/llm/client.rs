//! One HTTP attempt at an OpenAI-compatible chat completion (OpenAI, Azure OpenAI, Ollama, vLLM,
//! llama.cpp, OpenRouter), with what the provider said about its rate limits. Retries, limits,
//! caching and accounting live in the gateway.

use std::time::Duration;

use reqwest::{StatusCode, header::HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ProviderSignal;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model provider answered {status}: {body}")]
    Status {
        status: StatusCode,
        body: String,
        signal: ProviderSignal,
    },
    #[error("could not reach the model provider")]
    Transport(#[from] reqwest::Error),
    #[error("the model provider sent an unusable reply: {0}")]
    BadReply(String),
    #[error("the simulation's token budget of {budget} is exhausted ({spent} tokens spent)")]
    BudgetExhausted { budget: u64, spent: u64 },
}

impl LlmError {
    /// Worth another try: rate limits, server errors, timeouts, dropped connections. A 400-class
    /// answer will not change by asking again.
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Status { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS
                    || *status == StatusCode::REQUEST_TIMEOUT
                    || status.is_server_error()
            }
            LlmError::Transport(e) => {
                e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()
            }
            LlmError::BadReply(_) | LlmError::BudgetExhausted { .. } => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::Status { signal, .. } => signal.retry_after,
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "system",
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "user",
            content: content.into(),
        }
    }
}

/// Where and how to authenticate.
#[derive(Clone)]
pub enum Endpoint {
    OpenAi {
        base_url: String,
        api_key: Option<SecretString>,
    },
    Azure {
        deployment_url: String,
        api_key: Option<SecretString>,
        api_version: String,
    },
}

impl Endpoint {
    /// Names the provider key (without revealing it), so every worker using it shares one budget.
    pub fn budget_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let (url, key) = match self {
            Endpoint::OpenAi { base_url, api_key } => (base_url, api_key),
            Endpoint::Azure {
                deployment_url,
                api_key,
                ..
            } => (deployment_url, api_key),
        };
        let mut hash = Sha256::new();
        hash.update(url.as_bytes());
        hash.update(
            key.as_ref()
                .map(|k| k.expose_secret().as_bytes())
                .unwrap_or_default(),
        );
        hex::encode(&hash.finalize()[..8])
    }

    pub fn provider(&self) -> &'static str {
        match self {
            Endpoint::OpenAi { .. } => "openai",
            Endpoint::Azure { .. } => "azure",
        }
    }
}

/// What is asked of the provider.
#[derive(Debug, Clone, Copy)]
pub enum Operation {
    Chat,
    Embeddings,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Embeddings => "embeddings",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Operation::Chat => "chat/completions",
            Operation::Embeddings => "embeddings",
        }
    }
}

/// A successful attempt: the provider's JSON reply.
pub struct Attempt {
    pub reply: Value,
    pub signal: ProviderSignal,
}

#[derive(Clone)]
pub struct ProviderClient {
    http: reqwest::Client,
    endpoint: Endpoint,
}

#[derive(Deserialize)]
struct CompletionBody {
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ReplyMessage,
}

#[derive(Deserialize)]
struct ReplyMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Deserialize)]
struct EmbeddingsBody {
    data: Vec<Embedding>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Embedding {
    index: usize,
    embedding: Vec<f32>,
}

/// A chat reply's content and `(prompt, completion)` usage.
pub fn chat_content(reply: Value) -> Result<(String, Option<(u64, u64)>), LlmError> {
    let parsed: CompletionBody =
        serde_json::from_value(reply).map_err(|e| LlmError::BadReply(e.to_string()))?;
    let content = parsed
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .ok_or_else(|| LlmError::BadReply("no message content".into()))?;
    Ok((
        content,
        parsed.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
    ))
}

/// An embeddings reply's vectors, in input order, and its prompt tokens.
pub fn embedding_vectors(
    reply: Value,
    inputs: usize,
) -> Result<(Vec<Vec<f32>>, Option<u64>), LlmError> {
    let mut parsed: EmbeddingsBody =
        serde_json::from_value(reply).map_err(|e| LlmError::BadReply(e.to_string()))?;
    if parsed.data.len() != inputs {
        return Err(LlmError::BadReply(format!(
            "{} embeddings for {inputs} inputs",
            parsed.data.len()
        )));
    }
    parsed.data.sort_by_key(|e| e.index);
    Ok((
        parsed.data.into_iter().map(|e| e.embedding).collect(),
        parsed.usage.map(|u| u.prompt_tokens),
    ))
}

impl ProviderClient {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(ProviderClient { http, endpoint })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub async fn send(&self, operation: Operation, body: &Value) -> Result<Attempt, LlmError> {
        let path = operation.path();
        let call = match &self.endpoint {
            Endpoint::OpenAi { base_url, api_key } => {
                let call = self.http.post(format!("{base_url}/{path}"));
                match api_key {
                    Some(key) => call.bearer_auth(key.expose_secret()),
                    None => call,
                }
            }
            Endpoint::Azure {
                deployment_url,
                api_key,
                api_version,
            } => {
                let call = self
                    .http
                    .post(format!("{deployment_url}/{path}?api-version={api_version}"));
                match api_key {
                    Some(key) => call.header("api-key", key.expose_secret()),
                    None => call,
                }
            }
        };
        let response = call.json(body).send().await?;
        let status = response.status();
        let mut signal = read_signal(response.headers());
        if !status.is_success() {
            signal.rate_limited = status == StatusCode::TOO_MANY_REQUESTS;
            let mut body = response.text().await.unwrap_or_default();
            body.truncate(300);
            return Err(LlmError::Status {
                status,
                body,
                signal,
            });
        }
        let reply: Value = response
            .json()
            .await
            .map_err(|e| LlmError::BadReply(e.to_string()))?;
        Ok(Attempt { reply, signal })
    }
}

/// OpenAI's rate-limit headers: the limits themselves, and how long to wait after a 429
/// (`retry-after-ms` when given, else `retry-after` in seconds).
fn read_signal(headers: &HeaderMap) -> ProviderSignal {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let retry_after = number("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| number("retry-after"))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(600.0)));
    // A budget reported spent pauses callers until its reset (the longer of the two).
    let exhausted = |kind: &str| {
        number(&format!("x-ratelimit-remaining-{kind}"))
            .filter(|remaining| *remaining < 1.0)
            .and_then(|_| headers.get(format!("x-ratelimit-reset-{kind}")))
            .and_then(|v| v.to_str().ok())
            .and_then(parse_reset)
    };
    ProviderSignal {
        limit_requests: number("x-ratelimit-limit-requests").map(|v| v as u32),
        limit_tokens: number("x-ratelimit-limit-tokens").map(|v| v as u32),
        exhausted_for: exhausted("requests").max(exhausted("tokens")),
        retry_after,
        rate_limited: false,
    }
}

/// OpenAI's reset durations: `20ms`, `1.5s`, `6m0s`, `1h2m3s`.
fn parse_reset(raw: &str) -> Option<Duration> {
    let mut total = 0.0;
    let mut rest = raw.trim();
    while !rest.is_empty() {
        let split = rest.find(|c: char| c.is_ascii_alphabetic())?;
        let value: f64 = rest[..split].parse().ok()?;
        let unit_end = rest[split..]
            .find(|c: char| !c.is_ascii_alphabetic())
            .map_or(rest.len(), |i| split + i);
        total += value
            * match &rest[split..unit_end] {
                "ms" => 0.001,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                _ => return None,
            };
        rest = &rest[unit_end..];
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total.min(600.0)))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn rate_limit_headers_are_read_like_openai_sends_them() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ratelimit-limit-requests",
            HeaderValue::from_static("500"),
        );
        headers.insert(
            "x-ratelimit-limit-tokens",
            HeaderValue::from_static("200000"),
        );
        headers.insert("retry-after", HeaderValue::from_static("1.5"));
        let signal = read_signal(&headers);
        assert_eq!(
            (signal.limit_requests, signal.limit_tokens),
            (Some(500), Some(200_000))
        );
        assert_eq!(signal.retry_after, Some(Duration::from_millis(1500)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(
            read_signal(&headers).retry_after,
            Some(Duration::from_millis(250))
        );
        assert_eq!(read_signal(&headers).exhausted_for, None);
        headers.insert(
            "x-ratelimit-remaining-tokens",
            HeaderValue::from_static("0"),
        );
        headers.insert(
            "x-ratelimit-reset-tokens",
            HeaderValue::from_static("1m30.5s"),
        );
        assert_eq!(
            read_signal(&headers).exhausted_for,
            Some(Duration::from_millis(90_500))
        );
    }

    #[test]
    fn reset_durations_parse_in_openai_s_forms() {
        for (raw, millis) in [
            ("20ms", 20),
            ("1.5s", 1500),
            ("6m0s", 360_000),
            ("1m2.5s", 62_500),
        ] {
            assert_eq!(
                parse_reset(raw),
                Some(Duration::from_millis(millis)),
                "{raw}"
            );
        }
        assert_eq!(
            parse_reset("1h"),
            Some(Duration::from_secs(600)),
            "capped at ten minutes"
        );
        assert_eq!(parse_reset("soon"), None);
    }
}
