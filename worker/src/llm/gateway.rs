//! The gateway every model call goes through: cache, budget, shared rate limits, retries with
//! backoff, and accounting.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};
use troupe_shared::causes::Causes;

use backon::{ExponentialBuilder, Retryable};
use serde_json::{Value, json};
use troupe_shared::{config::LlmConfig, store::CachedResponse};

use super::{
    ChatMessage, Ledger, LlmError, RateLimiter,
    cache::{ResponseCache, cache_key},
    client::{Attempt, Operation, ProviderClient, chat_content, embedding_vectors},
    count_tokens,
};

/// Tokens of framing OpenAI adds per message.
const TOKENS_PER_MESSAGE: u64 = 4;
/// The first guess at a reply's length, until replies teach better.
const INITIAL_COMPLETION_ESTIMATE: u64 = 300;
/// The first guesses at a call's whole cost and its latency, for how many to run at once.
const INITIAL_TOKENS_PER_CALL: u64 = 1000;
const INITIAL_LATENCY_MICROS: u64 = 1_000_000;

pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub temperature: f64,
    pub seed: Option<u64>,
    /// Asks for structured output that follows this JSON schema, named `.0`.
    pub json_schema: Option<(&'static str, Value)>,
    /// The prompt carries client text that is stored only sealed (a transcript, a note): its
    /// reply, which quotes it, is never cached.
    pub confidential: bool,
}

#[derive(Debug, Clone)]
pub struct ChatReply {
    pub content: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached: bool,
}

pub struct Gateway {
    client: ProviderClient,
    model: String,
    embedding_model: String,
    limiter: RateLimiter,
    cache: ResponseCache,
    max_attempts: usize,
    price_per_million: (f64, f64),
    /// Running estimate of a completion's tokens, for reservations.
    completion_estimate: AtomicU64,
    /// Running estimates of a chat call's tokens (prompt and reply) and of a successful
    /// attempt's latency, for how many calls at once keep the key busy.
    tokens_per_call: AtomicU64,
    latency_micros: AtomicU64,
}

impl Gateway {
    pub fn new(
        client: ProviderClient,
        config: &LlmConfig,
        limiter: RateLimiter,
        cache: ResponseCache,
    ) -> Self {
        Gateway {
            client,
            model: config.model.clone(),
            embedding_model: config.embedding_model.clone(),
            limiter,
            cache,
            max_attempts: config.max_attempts,
            price_per_million: config.price_per_million,
            completion_estimate: AtomicU64::new(INITIAL_COMPLETION_ESTIMATE),
            tokens_per_call: AtomicU64::new(INITIAL_TOKENS_PER_CALL),
            latency_micros: AtomicU64::new(INITIAL_LATENCY_MICROS),
        }
    }

    /// How many chat calls at once the key's limits keep busy, as they stand now (lowered by
    /// the provider's headers and 429s) at the calls' running cost and latency. A wider round
    /// would only queue at the limiter; a narrower one would leave the key idle.
    pub fn sustainable_concurrency(&self) -> usize {
        let tokens = self.tokens_per_call.load(Ordering::Relaxed);
        let latency = Duration::from_micros(self.latency_micros.load(Ordering::Relaxed));
        self.limiter
            .sustainable_concurrency(u32::try_from(tokens).unwrap_or(u32::MAX), latency)
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn provider(&self) -> &'static str {
        self.client.endpoint().provider()
    }

    /// USD for the tokens a ledger spent.
    pub fn cost(&self, ledger: &Ledger) -> f64 {
        let (prompt, completion) = self.price_per_million;
        (Ledger::count(&ledger.prompt_tokens) as f64 * prompt
            + Ledger::count(&ledger.completion_tokens) as f64 * completion)
            / 1e6
    }

    /// One chat completion, charged to `ledger`.
    pub async fn chat(
        &self,
        request: &ChatRequest,
        ledger: &Ledger,
    ) -> Result<ChatReply, LlmError> {
        let body = self.body(request);
        let key = cache_key(&body);
        let cache = if request.confidential {
            &ResponseCache::Off
        } else {
            &self.cache
        };
        if let Some(hit) = cache.get(&key).await {
            ledger.cache_hits.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("troupe_llm_cache_hits_total").increment(1);
            return Ok(ChatReply {
                content: hit.content,
                prompt_tokens: hit.prompt_tokens as u64,
                completion_tokens: hit.completion_tokens as u64,
                cached: true,
            });
        }
        let prompt_estimate: u64 = request
            .messages
            .iter()
            .map(|m| count_tokens(&self.model, &m.content) as u64 + TOKENS_PER_MESSAGE)
            .sum();
        let estimate = prompt_estimate + self.completion_estimate.load(Ordering::Relaxed);
        ledger.commit(estimate)?;
        let outcome = self
            .attempt_with_retries(Operation::Chat, &body, estimate, ledger)
            .await
            .and_then(|attempt| chat_content(attempt.reply));
        let (content, usage) = match outcome {
            Ok(reply) => reply,
            Err(e) => {
                ledger.settle(estimate, 0, 0);
                return Err(e);
            }
        };
        let (prompt_tokens, completion_tokens) =
            usage.unwrap_or_else(|| (prompt_estimate, count_tokens(&self.model, &content) as u64));
        ledger.settle(estimate, prompt_tokens, completion_tokens);
        self.limiter
            .settle(estimate as u32, (prompt_tokens + completion_tokens) as u32)
            .await;
        // Exponential moving averages keep the estimates near what replies really cost.
        moving_average(&self.completion_estimate, completion_tokens);
        moving_average(&self.tokens_per_call, prompt_tokens + completion_tokens);
        let cached = CachedResponse {
            content: content.clone(),
            prompt_tokens: prompt_tokens as i64,
            completion_tokens: completion_tokens as i64,
        };
        cache.put(&key, &cached).await;
        Ok(ChatReply {
            content,
            prompt_tokens,
            completion_tokens,
            cached: false,
        })
    }

    /// Exponential backoff with full jitter on transient failures, honouring `retry-after`;
    /// each attempt waits its turn at the rate limiter.
    async fn attempt_with_retries(
        &self,
        operation: Operation,
        body: &Value,
        estimate: u64,
        ledger: &Ledger,
    ) -> Result<Attempt, LlmError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_secs(30))
            .with_max_times(self.max_attempts.saturating_sub(1))
            .with_jitter();
        let attempt = || async {
            let waited = self.limiter.acquire(estimate as u32).await;
            ledger.waited(waited);
            metrics::histogram!("troupe_llm_limiter_wait_seconds").record(waited.as_secs_f64());
            let started = std::time::Instant::now();
            let result = self.client.send(operation, body).await;
            let outcome = match &result {
                Ok(attempt) => {
                    self.limiter.observe(attempt.signal).await;
                    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    moving_average(&self.latency_micros, micros);
                    "ok"
                }
                Err(LlmError::Status { signal, .. }) => {
                    self.limiter.observe(*signal).await;
                    if signal.rate_limited {
                        ledger.rate_limited.fetch_add(1, Ordering::Relaxed);
                        "rate_limited"
                    } else {
                        "error"
                    }
                }
                Err(_) => "error",
            };
            let operation = operation.name();
            metrics::counter!("troupe_llm_requests_total", "operation" => operation, "outcome" => outcome).increment(1);
            metrics::histogram!("troupe_llm_request_duration_seconds", "operation" => operation)
                .record(started.elapsed().as_secs_f64());
            result
        };
        attempt
            .retry(backoff)
            .when(LlmError::is_transient)
            .adjust(|err, delay| err.retry_after().or(delay))
            .notify(|err, delay| {
                ledger.retries.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("troupe_llm_retries_total").increment(1);
                tracing::debug!(error = %Causes(err), ?delay, "retrying a model call");
            })
            .await
    }

    /// The provider's embeddings model, which names the vectors it returns.
    pub fn embedding_model(&self) -> &str {
        &self.embedding_model
    }

    /// Embeddings of `inputs` from the provider's embeddings model, charged to `ledger` and held
    /// to the key's limits like chat calls.
    pub async fn embed(
        &self,
        inputs: &[String],
        ledger: &Ledger,
    ) -> Result<Vec<Vec<f32>>, LlmError> {
        let estimate: u64 = inputs
            .iter()
            .map(|t| count_tokens(&self.embedding_model, t) as u64)
            .sum();
        ledger.commit(estimate)?;
        let body = json!({ "model": self.embedding_model, "input": inputs });
        let outcome = self
            .attempt_with_retries(Operation::Embeddings, &body, estimate, ledger)
            .await
            .and_then(|attempt| embedding_vectors(attempt.reply, inputs.len()));
        match outcome {
            Ok((vectors, usage)) => {
                let tokens = usage.unwrap_or(estimate);
                ledger.settle(estimate, tokens, 0);
                self.limiter.settle(estimate as u32, tokens as u32).await;
                Ok(vectors)
            }
            Err(e) => {
                ledger.settle(estimate, 0, 0);
                Err(e)
            }
        }
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
}

/// Moves a running estimate an eighth of the way to `sample` (concurrent updates may drop one
/// sample; an estimate does not need them all).
fn moving_average(estimate: &AtomicU64, sample: u64) {
    let previous = estimate.load(Ordering::Relaxed);
    estimate.store(
        (previous.saturating_mul(7).saturating_add(sample)) / 8,
        Ordering::Relaxed,
    );
}
