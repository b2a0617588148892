//! Predictions held against what really happened. The store loads what was predicted and what
//! happened (the outcomes the caller may see); [`report`] pairs them and measures, per kind of
//! simulation and per provider and model, how well the predictions did.
//!
//! An outcome counts against a prediction only when it happened on or after the day the
//! prediction was made: a showing before the focus group is history, not a forecast.

pub mod calibration;
pub mod predicted;
mod report;
pub mod stats;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

pub use report::{GroupTrials, report, trials};

use crate::domain::{AccuracyKind, OutcomeKind, SimulationKind};

/// One stored prediction, as the report reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    pub simulation_id: Uuid,
    pub kind: SimulationKind,
    pub persona_id: Option<Uuid>,
    pub property_id: Option<Uuid>,
    pub segment: Option<String>,
    pub material: Option<String>,
    pub channel: Option<String>,
    pub variant: Option<String>,
    pub score: Option<f64>,
    pub probability: Option<f64>,
    pub open_rate: Option<f64>,
    pub click_rate: Option<f64>,
    pub reply_rate: Option<f64>,
    /// A focus group's suggested price for the listing.
    pub price: Option<f64>,
    pub provider: String,
    pub model: String,
    pub predicted_at: DateTime<Utc>,
}

/// One recorded outcome, as the report reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeRow {
    pub id: Uuid,
    pub kind: OutcomeKind,
    pub occurred_on: NaiveDate,
    pub property_id: Option<Uuid>,
    pub persona_id: Option<Uuid>,
    pub simulation_id: Option<Uuid>,
    pub reaction: Option<i32>,
    /// An offer's amount, a sale's price.
    pub amount: Option<f64>,
    pub material: Option<String>,
    pub channel: Option<String>,
    pub segment: Option<String>,
    pub variant: Option<String>,
    pub sent: Option<i64>,
    pub opened: Option<i64>,
    pub clicked: Option<i64>,
    pub replied: Option<i64>,
    pub responded_touch: Option<i32>,
    pub positive: Option<bool>,
    pub interest: Option<i32>,
}

/// One recommendation of a match run.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendationRow {
    pub run_id: Uuid,
    pub persona_id: Uuid,
    pub property_id: Uuid,
    pub rank: i32,
    pub created_at: DateTime<Utc>,
}

/// What a client later made of a listing: feedback on a recommendation, a showing or an offer.
#[derive(Debug, Clone, PartialEq)]
pub struct InterestSignal {
    pub persona_id: Uuid,
    pub property_id: Uuid,
    /// Interest, a viewing or an offer; `false` for "not interested".
    pub interested: bool,
    pub on: NaiveDate,
}

/// Everything a report is computed from.
#[derive(Debug, Clone, Default)]
pub struct AccuracyInputs {
    pub predictions: Vec<PredictionRow>,
    pub outcomes: Vec<OutcomeRow>,
    pub recommendations: Vec<RecommendationRow>,
    pub signals: Vec<InterestSignal>,
}

/// What a report is asked for.
#[derive(Debug, Clone, Default)]
pub struct AccuracyQuery {
    pub kind: Option<AccuracyKind>,
    /// Predictions made on or after.
    pub since: Option<DateTime<Utc>>,
    pub model: Option<String>,
    /// Trials a calibration needs before it is fitted and judged on held-out outcomes.
    pub calibration_min: u64,
}

/// Matching is the rule-based scorer, not a model: its group is named so.
pub const MATCHING_PROVIDER: &str = "troupe";
pub const MATCHING_MODEL: &str = "rules";
