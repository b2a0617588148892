//! How well simulations predicted what really happened: the `GET /accuracy` report.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

text_enum! {
    /// What the report can be narrowed to: a simulation kind, or matching.
    pub enum AccuracyKind {
        FocusGroup => "focus_group",
        Marketing => "marketing",
        Intervention => "intervention",
        Individual => "individual",
        Matching => "matching",
    }
}

/// A figure with its 95% interval and the count behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Measured {
    pub value: f64,
    pub ci95: [f64; 2],
    /// Pairs, trials or checks it was computed from.
    pub n: u64,
}

/// How predicted figures line up with real ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Correlation {
    /// What against what, e.g. "purchase intent vs showing reaction".
    pub of: String,
    pub pairs: u64,
    /// Absent with fewer than 4 pairs, or when either side never varies.
    pub pearson: Option<Measured>,
    pub spearman: Option<Measured>,
}

/// One bin of a reliability table: predictions in `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Object)]
pub struct ReliabilityBin {
    pub from: f64,
    pub to: f64,
    pub trials: u64,
    pub mean_predicted: f64,
    pub observed_rate: f64,
}

/// Calibration fitted on the older outcomes and judged on the newer ones it never saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct HeldOut {
    /// `isotonic`: a monotone map from predicted to observed frequency.
    pub method: String,
    pub fitted_on: u64,
    pub evaluated_on: u64,
    pub brier_raw: f64,
    pub brier_calibrated: f64,
    /// `brier_raw − brier_calibrated`: positive when calibration helps.
    pub improvement: f64,
}

/// Predicted probabilities against what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Calibration {
    /// What probability, of what event, e.g. "purchase probability vs an offer".
    pub of: String,
    pub trials: u64,
    /// Mean squared error of the probability (0 is perfect; always saying 50% scores 0.25).
    pub brier: Measured,
    /// Expected calibration error: the trial-weighted gap between predicted and observed rate
    /// over ten equal-width bins.
    pub expected_calibration_error: f64,
    /// The bins that hold trials.
    pub reliability: Vec<ReliabilityBin>,
    /// Absent until there are as many trials as `TROUPE_ACCURACY_CALIBRATION_MIN_OUTCOMES`.
    pub held_out: Option<HeldOut>,
}

/// The mean absolute error of a predicted rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct RateError {
    /// e.g. "reply rate".
    pub of: String,
    /// Cells (a material × channel × segment) compared.
    pub cells: u64,
    /// Percentage points as a fraction (0.05 is five points).
    pub mean_absolute_error: Measured,
}

/// Whether what a simulation ranked first did best in reality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BestHits {
    /// e.g. "segment with the highest predicted intent had the best showings".
    pub of: String,
    /// Simulations with outcomes for at least two of the alternatives.
    pub checked: u64,
    pub hits: u64,
    /// Absent when nothing could be checked.
    pub hit_rate: Option<Measured>,
}

/// Share of the top-k recommendations a client later showed interest in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PrecisionAtK {
    pub k: u32,
    /// Recommendation lists (one client in one run) with any later interest or feedback.
    pub lists: u64,
    pub precision: Option<Measured>,
}

/// One month of predictions (by when they were made).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AccuracyPeriod {
    /// `YYYY-MM`.
    pub month: String,
    pub predictions: u64,
    /// The group's first correlation, over this month's pairs.
    pub pearson: Option<Measured>,
    /// The group's calibration Brier score, over this month's trials.
    pub brier: Option<Measured>,
}

/// One kind of prediction by one provider and model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AccuracyGroup {
    pub kind: AccuracyKind,
    pub provider: String,
    pub model: String,
    /// The offline persona model is a rule-based baseline, not a forecast: read its figures
    /// as what an LLM has to beat.
    pub baseline: bool,
    /// Predictions that have outcomes to be held against.
    pub predictions: u64,
    /// Outcomes they were held against.
    pub outcomes: u64,
    pub correlations: Vec<Correlation>,
    pub calibration: Option<Calibration>,
    pub rate_errors: Vec<RateError>,
    pub best: Option<BestHits>,
    pub precision_at_k: Vec<PrecisionAtK>,
    pub by_month: Vec<AccuracyPeriod>,
    /// The brokerage's latest fitted calibration of this group (over all its outcomes, not just
    /// those the caller sees): the one results use when it is `applied`.
    pub stored_calibration: Option<CalibrationFit>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AccuracyReport {
    pub generated_at: DateTime<Utc>,
    /// Predictions made on or after.
    pub since: Option<DateTime<Utc>>,
    pub groups: Vec<AccuracyGroup>,
    /// How to read it.
    pub notes: Vec<String>,
}

/// A recalibration of one kind of prediction's probabilities by one provider and model, fitted
/// on all of a brokerage's outcomes (nightly, or when an admin asks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CalibrationFit {
    pub id: Uuid,
    pub kind: AccuracyKind,
    pub provider: String,
    pub model: String,
    /// What probability, of what event, e.g. "purchase probability vs an offer or purchase".
    pub of: String,
    /// `isotonic`: a monotone map from predicted to observed frequency.
    pub method: String,
    pub fitted_at: DateTime<Utc>,
    /// Trials it was fitted on (a client's chance, a campaign's recipient).
    pub trials: u64,
    /// The same method fitted on the older 70% of the trials and judged on the newer 30%.
    pub held_out: Option<HeldOut>,
    /// Results show calibrated figures only from a fit that lowered the Brier score of
    /// outcomes it had not seen.
    pub applied: bool,
    /// Why results do not use it, when they do not.
    pub not_applied_because: Option<String>,
    /// The map, as (predicted, calibrated) points by predicted; between them it interpolates,
    /// beyond them it holds.
    pub points: Vec<[f64; 2]>,
}

/// The brokerage's calibrations in force: the latest fit of each kind, provider and model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct Calibrations {
    pub items: Vec<CalibrationFit>,
    /// Trials a kind needs before it is calibrated (`TROUPE_ACCURACY_CALIBRATION_MIN_OUTCOMES`).
    pub min_trials: u64,
}

/// One figure of a simulation's results, as predicted and as calibrated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CalibratedFigure {
    /// `purchase_probability` (a segment's mean, or every persona's when `segment` is absent),
    /// `open_rate`, `click_rate`, `reply_rate` (a material × channel × segment),
    /// `response_rate` (a sequence) or `positive_outcome_probability` (a client).
    pub figure: String,
    pub segment: Option<String>,
    pub material: Option<String>,
    pub channel: Option<super::Channel>,
    pub variant: Option<String>,
    pub persona_id: Option<Uuid>,
    /// As the simulation predicted it.
    pub raw: f64,
    /// Through the calibration (each persona's chance mapped, then averaged).
    pub calibrated: f64,
}

/// What the brokerage's outcomes say a simulation's probabilities are really worth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct CalibratedResults {
    /// The fit that produced the figures (or, not applied, why there are none).
    pub calibration: CalibrationFit,
    pub figures: Vec<CalibratedFigure>,
}
