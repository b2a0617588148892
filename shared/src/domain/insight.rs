//! The `detailed_insights` of a simulation's results, each tagged with its `kind`.

use poem_openapi::{Object, Union};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AnswerType, Channel, ScenarioType};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Union)]
#[oai(discriminator_name = "kind", one_of)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Insight {
    /// Focus group: how one segment (or `all`) received the listing.
    #[oai(mapping = "segment")]
    Segment(SegmentInsight),
    /// Focus group: one photo's appeal, ranked.
    #[oai(mapping = "photo")]
    Photo(PhotoInsight),
    /// Focus group: one modification's effect on intent, over the whole panel.
    #[oai(mapping = "modification")]
    Modification(ModificationEffect),
    /// Focus group: willingness to pay against the list price.
    #[oai(mapping = "pricing")]
    Pricing(PricingInsight),
    /// Focus group: the answers to one typed question, per segment.
    #[oai(mapping = "question")]
    Question(QuestionInsight),
    /// Marketing: one material on one channel, for one segment (or `all`).
    #[oai(mapping = "engagement")]
    Engagement(EngagementInsight),
    /// Marketing: the material and channel one client is likeliest to answer.
    #[oai(mapping = "best_for_client")]
    BestForClient(BestForClient),
    /// Intervention: one outreach sequence.
    #[oai(mapping = "variant")]
    Variant(VariantInsight),
    /// Individual: the persona's reaction.
    #[oai(mapping = "outcome")]
    Outcome(OutcomeInsight),
}

/// A mean with its 95% bootstrap interval (resampling personas, then iterations).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Estimate {
    pub mean: f64,
    pub ci95: [f64; 2],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Mention {
    pub text: String,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SegmentInsight {
    pub segment: String,
    pub personas: u32,
    pub responses: u32,
    /// Mean purchase intent on the 1–5 Likert scale (the personas' chosen points).
    pub mean_intent: f64,
    pub intent_stddev: f64,
    /// 95% bootstrap interval of the mean intent.
    pub intent_ci95: [f64; 2],
    /// Share of each Likert point 1–5 in the personas' intent distributions.
    pub intent_distribution: [f64; 5],
    /// Standard deviation of `intent_distribution`: the spread a human panel would show.
    pub distribution_stddev: f64,
    pub mean_purchase_probability: f64,
    /// Mean stated willingness to pay, where personas gave one.
    pub mean_willingness_to_pay: Option<f64>,
    pub top_likes: Vec<Mention>,
    pub top_dislikes: Vec<Mention>,
    pub modification_effects: Vec<ModificationEffect>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ModificationEffect {
    pub modification: String,
    pub intent_before: f64,
    pub intent_after: f64,
    /// Mean change in purchase intent (Likert points) when the modification is presented.
    pub mean_effect: f64,
    pub effect_ci95: [f64; 2],
    /// Share of personas whose intent the modification raises.
    pub positive_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PhotoInsight {
    /// 1 for the best; photos of equal appeal share a rank.
    pub rank: u32,
    /// 1-based, in the listing's order.
    pub photo: u32,
    pub url: String,
    pub description: String,
    pub appeal: Estimate,
    /// Share of the personas who rated photos that rated this one highest (photos tied at a
    /// persona's top share its vote).
    pub support: f64,
    /// Each persona saw the photos in an order of their own: this photo's appeal from those who
    /// saw it first, against its appeal from everyone. Absent if no one saw it first.
    pub order_effect: Option<OrderEffect>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PricingInsight {
    pub list_price: f64,
    pub currency: String,
    /// Personas who named a price they would pay.
    pub bidders: u32,
    pub personas: u32,
    /// 10th, 25th, 50th, 75th and 90th percentiles of willingness to pay.
    pub willingness_to_pay_percentiles: [f64; 5],
    /// Share of the whole panel that would pay the list price or more.
    pub share_at_list_price: f64,
    /// The price at which half of the interested personas would still buy.
    pub suggested_price: f64,
}

/// How a panel answered one typed question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct QuestionInsight {
    /// 1-based, in the plan's order of questions.
    pub question: u32,
    pub text: String,
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub answer: AnswerType,
    pub unit: Option<String>,
    /// The whole panel (`all`) first, then each segment.
    pub segments: Vec<QuestionSegment>,
    /// How much the order of the options swayed the answers (`single_choice` and `ranking`;
    /// each persona saw its own seeded order).
    pub order_effect: Option<OrderEffect>,
}

/// The pull of the option shown first, against what it would be if order did not matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OrderEffect {
    /// `single_choice`: the share of answers choosing the option shown first; `ranking`: the
    /// mean rank given to it; a photo: its mean appeal from the personas who saw it first.
    pub first_shown: Estimate,
    /// The same if order did not matter: 1 ÷ options, (options + 1) ÷ 2, or the photo's appeal
    /// from everyone.
    pub without_bias: f64,
}

/// One segment's (or `all`'s) answers to a typed question. Every figure is per persona (a
/// persona's iterations averaged), with a 95% bootstrap interval over personas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct QuestionSegment {
    pub segment: String,
    /// Personas who gave an answer of the question's type.
    pub respondents: u32,
    /// Personas asked who gave none (a failed step, or a model that could not answer).
    pub unanswered: u32,
    /// `likert`: the mean point; `numeric`: the mean value.
    pub mean: Option<Estimate>,
    /// `likert`: each point 1–5; `yes_no`: yes and no; `single_choice`: each option (they sum
    /// to 1); `multi_choice`: each option (a persona may choose several). Largest first, except
    /// Likert points, which stay in scale order.
    pub shares: Vec<OptionShare>,
    /// `ranking`: each option's mean rank, in Borda order (best first).
    pub ranks: Vec<OptionRank>,
    /// `numeric`: the 10th, 25th, 50th, 75th and 90th percentiles.
    pub percentiles: Option<[f64; 5]>,
    /// `free_text`: the answers grouped by meaning (with a sentence-embedding model) or by the
    /// words they share, largest theme first.
    pub themes: Vec<Theme>,
    /// `free_text`: how the themes were grouped, e.g. "meaning (all-MiniLM-L6-v2)" or "shared
    /// words (no embedding model installed)".
    pub themes_grouped_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OptionShare {
    pub option: String,
    pub share: f64,
    pub ci95: [f64; 2],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OptionRank {
    pub option: String,
    /// 1 is the best.
    pub mean_rank: f64,
    pub ci95: [f64; 2],
    /// Borda points per respondent: options − rank, averaged (higher is better).
    pub borda: f64,
}

/// Answers that say much the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Theme {
    /// The words its answers share most.
    pub label: String,
    /// Share of the respondents whose answer falls in it.
    pub share: f64,
    pub ci95: [f64; 2],
    pub answers: u32,
    /// Up to two answers nearest the theme's centre.
    pub quotes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EngagementInsight {
    pub material: String,
    pub channel: Channel,
    pub segment: String,
    pub personas: u32,
    pub open_rate: Estimate,
    /// Clicks per delivered material (open × click-through).
    pub click_rate: Estimate,
    /// Replies per delivered material (open × reply).
    pub reply_rate: Estimate,
    pub mean_sentiment: f64,
    pub top_objections: Vec<Mention>,
}

/// For one client: the material × channel with the highest expected reply rate, and the next
/// best, so an agent knows what to send whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BestForClient {
    pub persona_id: Uuid,
    pub persona_name: String,
    pub segment: String,
    pub best: Pick,
    pub next_best: Option<Pick>,
}

/// One material on one channel, as one client would receive it (iterations averaged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Pick {
    pub material: String,
    pub channel: Channel,
    pub open_rate: f64,
    /// Replies per delivery (open × reply).
    pub reply_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct VariantInsight {
    pub variant: String,
    pub personas: u32,
    /// Probability a persona responds to at least one touch.
    pub expected_response_rate: Estimate,
    pub touches: Vec<TouchInsight>,
    /// Interest and fatigue after the last touch.
    pub final_interest: f64,
    pub final_annoyance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TouchInsight {
    /// 1-based position in the sequence.
    pub touch: u32,
    pub day: u32,
    pub channel: Channel,
    pub response_probability: Estimate,
    pub mean_interest: f64,
    pub mean_annoyance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OutcomeInsight {
    pub persona_id: Uuid,
    pub scenario: ScenarioType,
    /// Expected interest (1–5) over iterations and the interest distribution.
    pub expected_interest: f64,
    pub interest_distribution: [f64; 5],
    pub likely_next_step: String,
    pub positive_outcome_probability: f64,
    pub objections: Vec<String>,
    pub questions: Vec<String>,
}
