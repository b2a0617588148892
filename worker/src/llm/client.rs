use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::{StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::count_tokens;

/// Attempts per call (the first plus retries) on 429, 5xx, timeouts and connection errors.
const MAX_ATTEMPTS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model provider answered {status}: {body}")]
    Status {
        status: StatusCode,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("could not reach the model provider: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("the model provider sent an unusable reply: {0}")]
    BadReply(String),
}

impl LlmError {
    /// Worth another try: rate limits, server errors, timeouts, dropped connections. A 400-class
    /// answer will not change by asking again.
    fn is_transient(&self) -> bool {
        match self {
            LlmError::Status { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            LlmError::Transport(e) => e.is_timeout() || e.is_connect() || e.is_request(),
            LlmError::BadReply(_) => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::Status { retry_after, .. } => *retry_after,
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

pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub temperature: f64,
    pub seed: Option<u64>,
    /// Asks for structured output that follows this JSON schema, named `.0`.
    pub json_schema: Option<(&'static str, Value)>,
}

#[derive(Debug, Clone)]
pub struct ChatReply {
    pub content: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// An OpenAI-compatible chat-completions client (OpenAI, Ollama, vLLM, llama.cpp, OpenRouter).
#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<SecretString>,
    model: String,
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
    prompt_tokens: u64,
    completion_tokens: u64,
}

impl LlmClient {
    pub fn new(
        base_url: &str,
        api_key: Option<SecretString>,
        model: &str,
        timeout: Duration,
    ) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(LlmClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            model: model.to_owned(),
        })
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// One chat completion, retried with exponential backoff and full jitter on transient
    /// failures (honouring `retry-after`).
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatReply, LlmError> {
        let body = self.body(request);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(20))
            .with_max_times(MAX_ATTEMPTS - 1)
            .with_jitter();
        let reply = (|| self.send(&body))
            .retry(backoff)
            .when(LlmError::is_transient)
            .adjust(|err, delay| err.retry_after().or(delay))
            .await?;
        Ok(ChatReply {
            // Providers that omit `usage` are accounted by our own count.
            prompt_tokens: reply.1.as_ref().map_or_else(
                || {
                    request
                        .messages
                        .iter()
                        .map(|m| count_tokens(&self.model, &m.content) as u64)
                        .sum()
                },
                |u| u.prompt_tokens,
            ),
            completion_tokens: reply.1.as_ref().map_or_else(
                || count_tokens(&self.model, &reply.0) as u64,
                |u| u.completion_tokens,
            ),
            content: reply.0,
        })
    }

    fn body(&self, request: &ChatRequest) -> Value {
        let mut body = json!({
            "model": self.model,
            "messages": request.messages,
            "temperature": request.temperature,
        });
        if let Some(seed) = request.seed {
            body["seed"] = json!(seed);
        }
        if let Some((name, schema)) = &request.json_schema {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": { "name": name, "schema": schema, "strict": true },
            });
        }
        body
    }

    async fn send(&self, body: &Value) -> Result<(String, Option<Usage>), LlmError> {
        let mut call = self
            .http
            .post(format!("{}/chat/completions", self.base_url))
            .json(body);
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key.expose_secret());
        }
        let response = call.send().await?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(Duration::from_secs_f64);
            let mut body = response.text().await.unwrap_or_default();
            body.truncate(300);
            return Err(LlmError::Status {
                status,
                body,
                retry_after,
            });
        }
        let parsed: CompletionBody = response
            .json()
            .await
            .map_err(|e| LlmError::BadReply(e.to_string()))?;
        let content = parsed
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| LlmError::BadReply("no message content".into()))?;
        Ok((content, parsed.usage))
    }
}
