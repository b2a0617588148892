use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::PropertyDetails;

text_enum! {
    pub enum SimulationKind {
        FocusGroup => "focus_group",
        Marketing => "marketing",
        Intervention => "intervention",
        Individual => "individual",
    }
}

text_enum! {
    /// `pending → running → completed | failed | cancelled`.
    pub enum SimulationStatus {
        Pending => "pending",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
    }
}

impl SimulationStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            SimulationStatus::Completed | SimulationStatus::Failed | SimulationStatus::Cancelled
        )
    }
}

/// Everything a worker needs to run a focus group, fixed at submission. The queue carries only
/// the simulation id; personas are referenced by id and loaded at run time, so a persona deleted
/// in between is simply left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct FocusGroupPlan {
    pub property_id: Option<Uuid>,
    pub property: PropertyDetails,
    pub persona_ids: Vec<Uuid>,
    pub questions: Vec<String>,
    pub modifications: Vec<String>,
    pub iterations: u32,
    pub temperature: f64,
    pub seed: u64,
    /// Tokens the run may spend; it fails cleanly rather than exceed them.
    pub token_budget: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Object)]
pub struct Progress {
    /// Agent steps (one persona answering one question) finished so far.
    pub done: i64,
    pub total: i64,
}

/// A simulation's lifecycle record (its results are read separately).
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
pub struct Simulation {
    pub id: Uuid,
    pub brokerage_id: Uuid,
    pub created_by: Uuid,
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: SimulationKind,
    pub status: SimulationStatus,
    pub progress: Progress,
    /// Why the simulation failed, in words for the user.
    pub error: Option<String>,
    /// Runs started, including recoveries after a worker died.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// The PRD's `results` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct SimulationResults {
    pub summary: String,
    pub recommendations: Vec<Recommendation>,
    /// Confidence in [0, 1] per named conclusion (e.g. `overall`, `segment:tech_founders`).
    pub confidence_scores: BTreeMap<String, f64>,
    /// One entry per segment.
    pub detailed_insights: Vec<SegmentInsight>,
    /// Every persona's answer to every question, with its structured judgement.
    pub raw_responses: Vec<AgentResponse>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct Recommendation {
    /// `modification`, `target_segment`, `photo` or `pricing`.
    pub kind: String,
    pub title: String,
    pub detail: String,
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct SegmentInsight {
    pub segment: String,
    pub personas: u32,
    pub responses: u32,
    /// Mean purchase intent on the 1–5 Likert scale.
    pub mean_intent: f64,
    pub intent_stddev: f64,
    /// 95% bootstrap interval of the mean intent, resampling personas.
    pub intent_ci95: [f64; 2],
    pub mean_purchase_probability: f64,
    /// Mean stated willingness to pay, where personas gave one.
    pub mean_willingness_to_pay: Option<f64>,
    pub top_likes: Vec<Mention>,
    pub top_dislikes: Vec<Mention>,
    pub modification_effects: Vec<ModificationEffect>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct Mention {
    pub text: String,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct ModificationEffect {
    pub modification: String,
    /// Mean change in purchase intent (Likert points, −2 to +2) if the modification were made.
    pub mean_effect: f64,
    pub effect_ci95: [f64; 2],
    /// Share of personas for whom the modification raises intent.
    pub positive_share: f64,
}

/// One persona's answer to one question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct AgentResponse {
    pub persona_id: Uuid,
    pub persona_name: String,
    pub segment: String,
    pub iteration: u32,
    pub question: String,
    pub answer: String,
    pub judgement: Judgement,
}

/// The structured part of an answer, as the model (or the offline model) returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct Judgement {
    /// 1 (certainly not) to 5 (certainly).
    pub purchase_intent: u8,
    pub purchase_probability: f64,
    pub willingness_to_pay: Option<f64>,
    pub likes: Vec<String>,
    pub dislikes: Vec<String>,
    /// Intent change (−2 to +2) per tested modification.
    pub modification_effects: BTreeMap<String, i8>,
}

/// What a run cost and how it was produced (the PRD's `metadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
pub struct RunMetadata {
    /// `offline` (the rule-based persona model), `openai` (an OpenAI-compatible endpoint) or
    /// `azure`.
    pub provider: String,
    pub model_version: String,
    /// Calls answered by the provider (cached answers excluded).
    pub llm_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub tokens_used: u64,
    pub token_budget: u64,
    /// Answers served from the response cache, at no cost.
    pub cache_hits: u64,
    /// Calls retried after a transient failure.
    pub retries: u64,
    /// 429 answers from the provider.
    pub rate_limited: u64,
    /// Time calls waited on the rate limiter, summed.
    pub limiter_wait_ms: u64,
    /// USD, from the configured prices.
    pub cost_estimate_usd: f64,
    /// Agent steps that failed (bad model output, provider errors) and were left out.
    pub failed_steps: u64,
    pub compute_time: f64,
}
