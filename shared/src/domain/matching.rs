//! Property–client matching: runs, their ranked recommendations, and brokers' feedback.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

text_enum! {
    pub enum MatchDirection {
        /// One listing against every client the caller may see.
        PropertyToClients => "property_to_clients",
        /// One client against every active listing.
        ClientToProperties => "client_to_properties",
        /// The scheduled run: what changed since the last one, brokerage-wide.
        Nightly => "nightly",
    }
}

text_enum! {
    pub enum MatchRunStatus {
        Pending => "pending",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
    }
}

text_enum! {
    /// What came of a recommendation.
    pub enum FeedbackOutcome {
        Sent => "sent",
        Interested => "interested",
        NotInterested => "not_interested",
        Viewed => "viewed",
        Offer => "offer",
    }
}

/// What a match run was asked to do, fixed when it is submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MatchParams {
    /// Recommendations to keep (per listing and per client for the nightly run).
    pub limit: u32,
    /// Matches scoring below this are not recommended.
    pub min_score: f64,
    /// Whether the model (when one is configured) re-ranks the kept matches and writes their
    /// explanation, highlights and outreach.
    #[serde(default)]
    pub rerank: bool,
    /// The caller whose visibility bounds the clients matched (none for the nightly run, which
    /// matches brokerage-wide and filters when read).
    #[oai(skip)]
    #[serde(default)]
    pub caller: Option<MatchCaller>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchCaller {
    pub user_id: Uuid,
    pub team_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MatchRun {
    pub id: Uuid,
    pub direction: MatchDirection,
    /// The listing or client matched (none for the nightly run).
    pub subject_id: Option<Uuid>,
    pub status: MatchRunStatus,
    pub params: MatchParams,
    /// The nightly slot this run is for.
    pub slot: Option<DateTime<Utc>>,
    /// Persona–listing pairs scored.
    pub pairs_scored: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One part of a match score: `contribution = weight × value`, and the parts add up to the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ScoreComponent {
    pub name: String,
    /// 0–1 (feedback: −1–1).
    pub value: f64,
    pub weight: f64,
    pub contribution: f64,
    /// Why, in words: what matched or did not.
    pub detail: String,
}

/// A hard constraint the match passed, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ConstraintCheck {
    pub name: String,
    pub detail: String,
}

/// How to reach the client about this listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Outreach {
    pub channel: String,
    pub timing: String,
    pub opening_line: String,
}

/// Everything a recommendation says beyond its pair and score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MatchDetail {
    pub persona_name: String,
    pub property_title: String,
    pub components: Vec<ScoreComponent>,
    pub constraints_passed: Vec<ConstraintCheck>,
    /// Near misses only: the one hard constraint the pair breaks, and how far off it is
    /// ("priced 12% above the budget ceiling", "3.4 km outside Montecito").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<ConstraintCheck>,
    pub explanation: String,
    /// What to show this client first.
    pub highlights: Vec<String>,
    pub outreach: Outreach,
    /// `rules` (written from the score's parts) or `model` (the re-rank wrote it).
    pub explained_by: String,
    /// For the nightly run: `new`, or `changed` with the previous score.
    pub change: Option<String>,
    pub previous_score: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MatchRecommendation {
    pub id: Uuid,
    pub run_id: Uuid,
    pub rank: i32,
    pub persona_id: Uuid,
    pub property_id: Uuid,
    /// 0–1.
    pub score: f64,
    #[oai(flatten)]
    #[serde(flatten)]
    pub detail: MatchDetail,
    pub feedback: Vec<Feedback>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Feedback {
    pub id: Uuid,
    pub outcome: FeedbackOutcome,
    pub reason: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}
