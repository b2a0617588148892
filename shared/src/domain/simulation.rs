use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem_openapi::{Object, Union};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Insight, TypedAnswer};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Progress {
    /// Agent steps (one persona answering one question) answered so far.
    pub done: i64,
    /// Agent steps that failed (the model's error, an unusable reply, no earlier answer to build
    /// on): they will not be answered. `done + failed` of `total` have run.
    pub failed: i64,
    pub total: i64,
}

/// A simulation's lifecycle record (its results are read separately).
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
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
    /// The stored listing it is about (a focus group on a stored listing).
    pub property_id: Option<Uuid>,
    /// The results' one-paragraph summary, once there are results.
    pub summary: Option<String>,
    /// When someone asked a running simulation to stop: it stops before its next round, keeps
    /// the answers it has and ends `cancelled`.
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// What planning had to warn of (a panel smaller than asked).
    pub warnings: Vec<String>,
}

/// What a list of simulations can be narrowed to.
#[derive(Debug, Clone, Default)]
pub struct SimulationFilter {
    pub kind: Option<SimulationKind>,
    pub status: Option<SimulationStatus>,
    pub property_id: Option<Uuid>,
    /// Simulations a stored persona took part in.
    pub persona_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// The last id of the previous page (lists run newest first).
    pub before: Option<Uuid>,
    pub limit: u32,
}

/// The PRD's `results` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SimulationResults {
    pub summary: String,
    /// Conclusive findings first, ranked by effect size; inconclusive ones last.
    pub recommendations: Vec<Recommendation>,
    /// Confidence in [0, 1] per named conclusion (e.g. `overall`, `segment:tech_founders`).
    pub confidence_scores: BTreeMap<String, f64>,
    /// The kind's findings, each tagged with its `kind` (segment, photo, modification, pricing,
    /// engagement, variant, outcome).
    pub detailed_insights: Vec<Insight>,
    /// Every agent step's answer with its structured judgement.
    pub raw_responses: Vec<AgentResponse>,
    /// What a reader must know to trust these numbers: a panel smaller than asked, say.
    #[serde(default)]
    #[oai(default)]
    pub warnings: Vec<String>,
    /// Every agent step that did not answer, with who, where and why.
    #[serde(default)]
    #[oai(default)]
    pub failed_steps: Vec<FailedStep>,
}

/// Agent steps that failed: one persona's step, or (`persona_id` absent) a number of steps that
/// could not be taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FailedStep {
    pub persona_id: Option<Uuid>,
    pub persona_name: Option<String>,
    pub iteration: u32,
    pub round: u32,
    pub step: String,
    /// How many steps this entry stands for (1 for a persona's own).
    pub steps: u64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Recommendation {
    /// `modification`, `target_segment`, `photo`, `pricing`, `message`, `channel`, `timing`,
    /// `sequence` or `next_step`.
    pub kind: String,
    pub title: String,
    pub detail: String,
    /// The size of the effect behind it, in its own unit (Likert points, a rate), when it has one.
    pub effect: Option<f64>,
    pub confidence: f64,
}

/// One persona's answer at one step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AgentResponse {
    pub persona_id: Uuid,
    pub persona_name: String,
    pub segment: String,
    pub iteration: u32,
    /// The round it answered in, from 0.
    pub round: u32,
    /// What was put to it: `question 1`, `discussion 1`, `modification 2`,
    /// `material "Launch" via email`, `variant "Soft" touch 3 (day 7)`, `scenario`.
    pub step: String,
    pub prompt: String,
    pub answer: String,
    pub judgement: Judgement,
}

/// The structured part of an answer, tagged with the kind of stimulus it judges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Union)]
#[oai(discriminator_name = "kind", one_of)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Judgement {
    #[oai(mapping = "listing")]
    Listing(ListingJudgement),
    #[oai(mapping = "engagement")]
    Engagement(EngagementJudgement),
    #[oai(mapping = "touch")]
    Touch(TouchJudgement),
    #[oai(mapping = "scenario")]
    Scenario(ScenarioJudgement),
}

/// A persona's judgement of a listing (focus groups).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ListingJudgement {
    /// The Likert point the persona chose: 1 (certainly not) to 5 (certainly).
    pub purchase_intent: u8,
    /// Probability of each Likert point 1–5, from the reply's wording (semantic similarity
    /// rating) blended with the chosen point: the spread a point score hides.
    pub intent_distribution: [f64; 5],
    pub purchase_probability: f64,
    pub willingness_to_pay: Option<f64>,
    pub likes: Vec<String>,
    pub dislikes: Vec<String>,
    /// Appeal of each photo (first round only).
    pub photo_appeal: Vec<PhotoAppeal>,
    /// The answer in the typed question's own shape (absent for plain questions, discussion
    /// and modifications, and when the persona could not give one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typed_answer: Option<TypedAnswer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PhotoAppeal {
    /// 1-based, in the listing's order.
    pub photo: u32,
    /// 1 (puts me off) to 5 (makes me want to visit).
    pub appeal: u8,
}

/// A persona's response to one marketing material on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EngagementJudgement {
    pub open_probability: f64,
    /// Probability of clicking through (or asking for more), given the material was opened.
    pub click_probability: f64,
    /// Probability of replying to the sender, given the material was opened.
    pub reply_probability: f64,
    /// −1 (hostile) to +1 (delighted).
    pub sentiment: f64,
    pub objections: Vec<String>,
}

/// A persona's response to one touch of an outreach sequence, and its state after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TouchJudgement {
    /// Probability of responding to this touch.
    pub response_probability: f64,
    pub sentiment: f64,
    /// Interest in the relationship after this touch, 0 to 1.
    pub interest: f64,
    /// Fatigue with the outreach after this touch, 0 to 1.
    pub annoyance: f64,
}

/// A persona's reaction to a one-to-one scenario (viewing, email, call).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ScenarioJudgement {
    /// 1 (not interested) to 5 (eager to proceed).
    pub interest: u8,
    /// Probability of each interest point 1–5 (see [`ListingJudgement::intent_distribution`]).
    pub interest_distribution: [f64; 5],
    /// What the client most likely does next, in a few words.
    pub likely_next_step: String,
    /// Probability the scenario ends well for the agent (a second viewing, a reply, a meeting).
    pub positive_outcome_probability: f64,
    pub sentiment: f64,
    pub objections: Vec<String>,
    /// Questions the client would ask.
    pub questions: Vec<String>,
}

/// What a run cost and how it was produced (the PRD's `metadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
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
    /// Replies whose judgement contradicted its own words or the persona (top intent while
    /// naming a deal-breaker, a price above the budget with no reason) and that were answered
    /// consistently when asked once more with the contradiction named.
    #[serde(default)]
    #[oai(default)]
    pub repaired_replies: u64,
    /// Replies that still contradicted themselves when asked again: counted among the failed
    /// steps, each with its contradiction as the reason.
    #[serde(default)]
    #[oai(default)]
    pub rejected_replies: u64,
    /// Time calls waited on the rate limiter, summed.
    pub limiter_wait_ms: u64,
    /// USD, from the configured prices.
    pub cost_estimate_usd: f64,
    /// Agent steps that failed (bad model output, provider errors) and were left out.
    pub failed_steps: u64,
    pub compute_time: f64,
}
