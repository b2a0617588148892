//! Who answers for a persona: an LLM through the gateway, or the rule-based offline model.

use std::{collections::BTreeMap, sync::Arc};

use serde::Deserialize;
use troupe_shared::domain::Judgement;

use super::{
    offline,
    prompt::{self, Turn},
};
use crate::llm::{ChatRequest, Gateway, Ledger, LlmError};

#[derive(Clone)]
pub enum Responder {
    Llm(Arc<Gateway>),
    Offline,
}

pub struct StepAnswer {
    pub answer: String,
    pub judgement: Judgement,
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// This agent's step failed (after retries); the run goes on without it.
    #[error("{0}")]
    Agent(String),
    /// Every step would fail the same way (bad key, unknown model): stop the run.
    #[error("{0}")]
    Fatal(String),
}

/// The model's reply, before it is checked.
#[derive(Deserialize)]
struct RawReply {
    answer: String,
    purchase_intent: f64,
    purchase_probability: f64,
    willingness_to_pay: Option<f64>,
    #[serde(default)]
    likes: Vec<String>,
    #[serde(default)]
    dislikes: Vec<String>,
    #[serde(default)]
    modification_effects: Vec<RawEffect>,
}

#[derive(Deserialize)]
struct RawEffect {
    modification: String,
    effect: f64,
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
            Responder::Llm(gateway) => ask(gateway, turn, temperature, seed, ledger).await,
        }
    }
}

async fn ask(
    gateway: &Gateway,
    turn: &Turn<'_>,
    temperature: f64,
    seed: u64,
    ledger: &Ledger,
) -> Result<StepAnswer, StepError> {
    let mut request = ChatRequest {
        messages: prompt::messages(turn),
        temperature,
        seed: Some(seed),
        json_schema: Some(("persona_reply", prompt::reply_schema())),
    };
    let mut last_problem = String::new();
    // A malformed reply is repaired where that is safe, else asked for once more with the next
    // seed (so that a cached replay of this run repeats exactly these two calls).
    for attempt in 0..2u64 {
        request.seed = Some(seed.wrapping_add(attempt));
        let reply = gateway.chat(&request, ledger).await.map_err(classify)?;
        match parse_reply(&reply.content, turn.modifications) {
            Ok(answer) => return Ok(answer),
            Err(problem) => last_problem = problem,
        }
    }
    Err(StepError::Agent(format!(
        "the model's reply was not usable JSON: {last_problem}"
    )))
}

/// Errors that every further call would repeat stop the run; the rest cost one step.
fn classify(err: LlmError) -> StepError {
    match &err {
        LlmError::BudgetExhausted { .. } => StepError::Fatal(err.to_string()),
        LlmError::Status { status, .. }
            if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 =>
        {
            StepError::Fatal(err.to_string())
        }
        _ => StepError::Agent(err.to_string()),
    }
}

/// Parses and checks a reply, tolerating code fences and prose around the JSON object.
fn parse_reply(content: &str, modifications: &[String]) -> Result<StepAnswer, String> {
    let start = content.find('{').ok_or("no JSON object")?;
    let end = content.rfind('}').ok_or("unterminated JSON object")?;
    if end < start {
        return Err("unterminated JSON object".into());
    }
    let raw: RawReply = serde_json::from_str(&content[start..=end]).map_err(|e| e.to_string())?;
    if !raw.purchase_intent.is_finite() || !raw.purchase_probability.is_finite() {
        return Err("non-numeric intent".into());
    }
    let mut effects = BTreeMap::new();
    for effect in raw.modification_effects {
        // Models sometimes paraphrase or number the modification; match it back to ours.
        let named = modifications.iter().find(|m| {
            m.eq_ignore_ascii_case(effect.modification.trim())
                || effect
                    .modification
                    .trim()
                    .parse::<usize>()
                    .is_ok_and(|i| i >= 1 && modifications.get(i - 1) == Some(m))
        });
        if let Some(m) = named {
            effects.insert(m.clone(), effect.effect.round().clamp(-2.0, 2.0) as i8);
        }
    }
    Ok(StepAnswer {
        answer: raw.answer,
        judgement: Judgement {
            purchase_intent: raw.purchase_intent.round().clamp(1.0, 5.0) as u8,
            purchase_probability: raw.purchase_probability.clamp(0.0, 1.0),
            willingness_to_pay: raw.willingness_to_pay.filter(|w| w.is_finite() && *w > 0.0),
            likes: raw.likes.into_iter().take(20).collect(),
            dislikes: raw.dislikes.into_iter().take(20).collect(),
            modification_effects: effects,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_in_fences_are_repaired_and_clamped() {
        let mods = vec!["Add a pool".to_owned()];
        let content = "```json\n{\"answer\":\"Lovely\",\"purchase_intent\":7,\"purchase_probability\":1.4,\
            \"willingness_to_pay\":null,\"likes\":[\"view\"],\"dislikes\":[],\
            \"modification_effects\":[{\"modification\":\"add a pool\",\"effect\":3},{\"modification\":\"x\",\"effect\":1}]}\n```";
        let answer = parse_reply(content, &mods).unwrap();
        assert_eq!(answer.judgement.purchase_intent, 5);
        assert_eq!(answer.judgement.purchase_probability, 1.0);
        assert_eq!(
            answer.judgement.modification_effects.get("Add a pool"),
            Some(&2)
        );
        assert_eq!(answer.judgement.modification_effects.len(), 1);
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse_reply("I'd rather not say", &[]).is_err());
        assert!(parse_reply("{\"answer\": \"truncated", &[]).is_err());
    }
}
