//! Enrichment: sources about a client (notes, transcripts, emails, public information, logged
//! interactions), the facts extracted from them with their provenance, and the runs that merge
//! those facts into the persona.

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

text_enum! {
    pub enum SourceKind {
        /// A call or meeting transcript.
        Transcript => "transcript",
        Email => "email",
        /// An agent's internal note.
        Note => "note",
        /// Press, filings, social profiles.
        PublicInfo => "public_info",
        /// One logged interaction (a viewing, a call summary).
        Interaction => "interaction",
    }
}

impl SourceKind {
    /// The largest text accepted for a source of this kind, in bytes.
    pub fn max_bytes(self) -> usize {
        match self {
            SourceKind::Transcript => 200 * 1024,
            SourceKind::Email | SourceKind::PublicInfo => 64 * 1024,
            SourceKind::Note | SourceKind::Interaction => 32 * 1024,
        }
    }
}

text_enum! {
    pub enum EnrichmentStatus {
        Queued => "queued",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
    }
}

text_enum! {
    pub enum FactKind {
        /// A liked property type, location or feature (`category` says which).
        Preference => "preference",
        DealBreaker => "deal_breaker",
        /// The price range (`value`: `{min, max}`).
        Budget => "budget",
        NetWorth => "net_worth",
        Occupation => "occupation",
        CommunicationPreference => "communication_preference",
        LifeEvent => "life_event",
        /// A person in the client's life (`value`: `{name, relation}`).
        Relationship => "relationship",
        Interest => "interest",
        /// A property bought, sold or viewed (`value`: `{title, action, date, price}`).
        PastProperty => "past_property",
    }
}

text_enum! {
    /// What a fact says about what the persona already holds.
    pub enum FactEffect {
        Added => "added",
        Strengthened => "strengthened",
        Weakened => "weakened",
        /// The client no longer holds it (a preference dropped, a budget replaced).
        Contradicted => "contradicted",
    }
}

text_enum! {
    pub enum FactStatus {
        /// Merged into the persona.
        Applied => "applied",
        /// Replaced by a more recent (or more certain) fact about the same thing.
        Superseded => "superseded",
        /// Older or less certain than what the persona holds; kept, not applied.
        Outweighed => "outweighed",
        /// Failed a check (its quote is not in the source, or it reads as an instruction).
        Rejected => "rejected",
    }
}

/// One source to learn from.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SourceIn {
    pub kind: SourceKind,
    /// The text itself (a transcript ≤ 200 KB; email and public information ≤ 64 KB; notes and
    /// interactions ≤ 32 KB).
    #[oai(validator(min_length = 1))]
    pub content: String,
    /// When it was said or written; recency settles contradictions. Default: today.
    pub occurred_on: Option<NaiveDate>,
    #[oai(validator(max_length = 200))]
    pub author: Option<String>,
    #[oai(validator(max_length = 200))]
    pub title: Option<String>,
}

/// `POST /personas/{id}/enrich`: the PRD's `enrichment_data`, plus typed sources.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EnrichmentRequest {
    /// Public information: text, or any JSON object (stored as its text).
    pub public_info: Option<Value>,
    #[oai(validator(max_length = 32768))]
    pub internal_notes: Option<String>,
    /// Logged interactions, each any JSON object (`date`, `kind`, `summary`, …).
    #[serde(default)]
    #[oai(default, validator(max_items = 100))]
    pub interaction_history: Vec<Value>,
    /// Transcripts, emails and notes.
    #[serde(default)]
    #[oai(default, validator(max_items = 20))]
    pub sources: Vec<SourceIn>,
    /// The PRD's nesting of the three fields above (as individual simulations take them); both
    /// may be given, and all of it is learned from.
    pub enrichment_data: Option<super::EnrichmentData>,
}

/// A stored source, without its text.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SourceRef {
    pub id: Uuid,
    pub kind: SourceKind,
    pub occurred_on: NaiveDate,
    pub author: Option<String>,
    pub title: Option<String>,
    pub bytes: i64,
}

/// A stored source with its text (for an export).
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SourceText {
    #[oai(flatten)]
    #[serde(flatten)]
    pub source: SourceRef,
    pub content: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FactCounts {
    pub applied: u32,
    pub superseded: u32,
    pub outweighed: u32,
    pub rejected: u32,
}

/// One enrichment run.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Enrichment {
    pub id: Uuid,
    pub persona_id: Uuid,
    pub status: EnrichmentStatus,
    /// The sources this run learns from (a source submitted before is not learned twice).
    pub sources: Vec<SourceRef>,
    /// `llm:<model>`, or `offline-rules` for the rule-based extractor.
    pub extractor: Option<String>,
    /// The persona version the facts went into.
    pub version: Option<i64>,
    pub facts: Option<FactCounts>,
    pub error: Option<String>,
    pub requested_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// What an extractor read in a source; checked and resolved before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateFact {
    pub kind: FactKind,
    /// For preferences: `property_types`, `locations` or `features`.
    #[serde(default)]
    pub category: Option<String>,
    pub value: Value,
    #[serde(default = "added")]
    pub effect: FactEffect,
    /// The span of the source that says it, verbatim.
    pub quote: String,
    pub confidence: f64,
}

fn added() -> FactEffect {
    FactEffect::Added
}

/// A stored fact with its provenance.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Fact {
    pub id: Uuid,
    pub kind: FactKind,
    /// What it is about in the persona: `preferences.budget`, `preferences.features:wine cellar`.
    pub slot: String,
    pub value: Value,
    pub effect: FactEffect,
    pub confidence: f64,
    pub status: FactStatus,
    /// Why it was superseded, outweighed or rejected.
    pub reason: Option<String>,
    pub superseded_by: Option<Uuid>,
    /// The persona version it went into (applied facts).
    pub version: Option<i64>,
    pub source: SourceRef,
    /// The source's words.
    pub quote: String,
    pub observed_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

/// One interest's course over the timeline.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct InterestTrend {
    /// `features:wine cellar`, `interest:sailing`, `locations:Aspen`.
    pub item: String,
    /// Recency-weighted evidence: positive rising, negative fading.
    pub momentum: f64,
    pub last_seen: NaiveDate,
    /// The facts behind it, newest first.
    pub evidence: Vec<Uuid>,
}

/// An interest the persona may take up next, from what other clients did.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LikelyInterest {
    pub item: String,
    /// Laplace-smoothed share of clients holding `because_of` who later took this up.
    pub confidence: f64,
    pub because_of: String,
    /// How many clients took `because_of` up, and how many of them then this.
    pub clients_with_antecedent: u32,
    pub clients_who_followed: u32,
}

/// `GET /personas/{id}/insights`.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PersonaInsights {
    pub persona_id: Uuid,
    pub rising: Vec<InterestTrend>,
    pub fading: Vec<InterestTrend>,
    pub next_likely: Vec<LikelyInterest>,
    /// Facts the insights were computed from.
    pub facts_considered: u32,
}
