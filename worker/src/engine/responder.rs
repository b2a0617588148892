//! Who answers for a persona: an LLM through the gateway, or the rule-based offline model.

use std::sync::{Arc, atomic::Ordering};
use troupe_shared::causes::Causes;

use serde_json::Value;

use super::{
    offline,
    prompt::{self, Turn},
    reply::{self, StepAnswer},
    validate,
};
use crate::llm::{ChatMessage, ChatRequest, Gateway, Ledger, LlmError};

#[derive(Clone)]
pub enum Responder {
    Llm(Arc<Gateway>),
    Offline,
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// This agent's step failed (after retries); the run goes on without it.
    #[error("{0}")]
    Agent(String),
    /// Every step would fail the same way (bad key, unknown model, budget spent): stop the run.
    #[error("{0}")]
    Fatal(String),
}

impl Responder {
    pub fn provider(&self) -> &'static str {
        match self {
            Responder::Llm(gateway) => gateway.provider(),
            Responder::Offline => "offline",
        }
    }

    pub fn model(&self) -> &str {
        match self {
            Responder::Llm(gateway) => gateway.model(),
            Responder::Offline => offline::MODEL_VERSION,
        }
    }

    /// How many agent steps to run at once, at most `ceiling`: as many as the provider key keeps
    /// busy (the offline model has no key to spare).
    pub fn concurrency(&self, ceiling: usize) -> usize {
        let wanted = match self {
            Responder::Llm(gateway) => gateway.sustainable_concurrency(),
            Responder::Offline => ceiling,
        };
        wanted.clamp(1, ceiling.max(1))
    }

    /// One agent step, charged to the run's ledger.
    pub async fn answer(
        &self,
        turn: &Turn<'_>,
        temperature: f64,
        seed: u64,
        ledger: &Ledger,
    ) -> Result<StepAnswer, StepError> {
        match self {
            Responder::Offline => Ok(offline::answer(turn, seed)),
            Responder::Llm(gateway) => {
                checked_answer(gateway, turn, temperature, seed, ledger).await
            }
        }
    }
}

/// A model's answer to one step, held to the reply check ([`validate`]): a reply that
/// contradicts itself is asked for once more with the contradiction named, and a second one
/// costs the step.
async fn checked_answer(
    gateway: &Gateway,
    turn: &Turn<'_>,
    temperature: f64,
    seed: u64,
    ledger: &Ledger,
) -> Result<StepAnswer, StepError> {
    let shape = turn.stimulus.reply_shape();
    let call = |messages| {
        let structured = (shape.task.schema_name(), reply::schema(&shape));
        ask(
            gateway,
            messages,
            structured,
            temperature,
            seed,
            ledger,
            |c| reply::parse(&shape, c),
        )
    };
    let messages = prompt::messages(turn);
    let answer = call(messages.clone()).await?;
    let Some(problem) = validate::contradiction(turn.persona, &turn.stimulus, &answer) else {
        return Ok(answer);
    };
    let mut again = messages;
    again.push(ChatMessage::user(format!(
        "Careful: a reply to this said that {problem}, which contradicts itself. Answer again, \
         consistently with who you are and with your own words."
    )));
    let second = call(again).await?;
    match validate::contradiction(turn.persona, &turn.stimulus, &second) {
        None => {
            ledger.repaired.fetch_add(1, Ordering::Relaxed);
            Ok(second)
        }
        Some(still) => {
            ledger.rejected.fetch_add(1, Ordering::Relaxed);
            Err(StepError::Agent(format!(
                "the reply contradicted itself twice: {still}"
            )))
        }
    }
}

/// Asks for structured output and parses it. A malformed reply is repaired where that is safe
/// (by `parse`), else asked for once more with the next seed, so that a cached replay of the run
/// repeats exactly these calls.
pub async fn ask<T>(
    gateway: &Gateway,
    messages: Vec<ChatMessage>,
    (name, schema): (&'static str, Value),
    temperature: f64,
    seed: u64,
    ledger: &Ledger,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, StepError> {
    let request = ChatRequest {
        messages,
        temperature,
        seed: Some(seed),
        json_schema: Some((name, schema)),
        confidential: false,
    };
    ask_with(gateway, request, ledger, parse).await
}

/// [`ask`] with the request as given (its seed is the first of the two).
pub async fn ask_with<T>(
    gateway: &Gateway,
    mut request: ChatRequest,
    ledger: &Ledger,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, StepError> {
    let seed = request.seed.unwrap_or_default();
    let mut last_problem = String::new();
    for attempt in 0..2u64 {
        request.seed = Some(seed.wrapping_add(attempt));
        let reply = gateway.chat(&request, ledger).await.map_err(classify)?;
        match parse(&reply.content) {
            Ok(answer) => return Ok(answer),
            Err(problem) => last_problem = problem,
        }
    }
    Err(StepError::Agent(format!(
        "the model's reply was not usable JSON: {last_problem}"
    )))
}

/// Errors that every further call would repeat stop the run: the budget spent, a key refused
/// (401, 403) or a model the provider does not know (404). Any other answer — a 400 on one
/// prompt (a content filter, a context too long), a 5xx after its retries — costs that step.
fn classify(err: LlmError) -> StepError {
    match &err {
        LlmError::BudgetExhausted { .. } => StepError::Fatal(err.to_string()),
        LlmError::Status { status, .. } if matches!(status.as_u16(), 401 | 403 | 404) => {
            StepError::Fatal(err.to_string())
        }
        _ => StepError::Agent(Causes(&err).to_string()),
    }
}
