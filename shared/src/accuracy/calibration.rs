//! Stored recalibration: per brokerage, kind, provider and model, an isotonic map fitted on every
//! probability trial the brokerage's outcomes settle (nightly, or when an admin asks), judged on
//! held-out outcomes first, and applied to a simulation's figures when its results are read.
//!
//! A fit is applied only when, fitted on the older 70% of the trials, it lowered the Brier
//! score of the newer 30%: a map that overfits a small or shifting history would make the
//! figures worse while looking more precise.

use std::collections::BTreeMap;

use super::{
    AccuracyInputs, AccuracyQuery,
    predicted::{self, Whose},
    report::{self, held_out},
    stats::{Isotonic, total_trials},
};
use crate::domain::{
    AccuracyKind, CalibratedFigure, CalibratedResults, CalibrationFit, HeldOut, Prediction,
    SimulationKind, SimulationPlan, SimulationResults,
};

/// The only method so far.
pub const METHOD: &str = "isotonic";

/// A calibration fitted on one group's trials, before it is stored.
#[derive(Debug, Clone)]
pub struct Fit {
    pub kind: AccuracyKind,
    pub provider: String,
    pub model: String,
    pub of: &'static str,
    pub map: Isotonic,
    pub trials: u64,
    pub held_out: Option<HeldOut>,
}

impl Fit {
    /// `None` when results may use it; else why not.
    pub fn not_applied_because(&self) -> Option<String> {
        match &self.held_out {
            None => Some("too few trials to judge it on outcomes it was not fitted on".into()),
            Some(h) if h.improvement <= 0.0 => Some(format!(
                "on held-out outcomes it did not lower the Brier score ({:.4} raw, {:.4} \
                 calibrated)",
                h.brier_raw, h.brier_calibrated
            )),
            Some(_) => None,
        }
    }
}

/// A fit for every simulation group with at least `min_trials` trials (and at least two).
pub fn fit(inputs: &AccuracyInputs, min_trials: u64) -> Vec<Fit> {
    report::trials(inputs, &AccuracyQuery::default())
        .into_iter()
        .filter_map(|group| {
            let trials = total_trials(&group.trials);
            if trials < min_trials.max(2) {
                return None;
            }
            Some(Fit {
                map: Isotonic::fit(&group.trials)?,
                held_out: held_out(&group.trials),
                kind: group.kind,
                provider: group.provider,
                model: group.model,
                of: group.of,
                trials,
            })
        })
        .collect()
}

/// A simulation's probabilities through `map`: every persona's chance is mapped and then
/// averaged as the results average it (per segment, per sequence), and a marketing cell's rates
/// are mapped as the report's trials pooled them.
pub fn figures(
    plan: &SimulationPlan,
    results: &SimulationResults,
    map: &Isotonic,
) -> Vec<CalibratedFigure> {
    let predictions = predicted::predictions(plan, results, Whose::EveryPersona);
    let blank = |figure: &str, raw: f64, calibrated: f64| CalibratedFigure {
        figure: figure.to_owned(),
        segment: None,
        material: None,
        channel: None,
        variant: None,
        persona_id: None,
        raw,
        calibrated,
    };
    match plan {
        SimulationPlan::FocusGroup(_) => {
            let by_segment = averaged(&predictions, |p| p.segment.clone(), map);
            let mut figures: Vec<CalibratedFigure> = by_segment
                .into_iter()
                .map(|(segment, (raw, calibrated))| CalibratedFigure {
                    segment,
                    ..blank("purchase_probability", raw, calibrated)
                })
                .collect();
            if figures.len() > 1 {
                let (raw, calibrated) = averaged(&predictions, |_| None, map)
                    .remove(&None)
                    .expect("predictions exist");
                figures.push(blank("purchase_probability", raw, calibrated));
            }
            figures
        }
        SimulationPlan::Marketing(_) => predictions
            .iter()
            .filter_map(|p| Some((p, p.rates?)))
            .flat_map(|(p, rates)| {
                ["open_rate", "click_rate", "reply_rate"]
                    .into_iter()
                    .zip(rates)
                    .map(move |(figure, raw)| CalibratedFigure {
                        segment: p.segment.clone(),
                        material: p.material.clone(),
                        channel: p.channel,
                        ..blank(figure, raw, map.apply(raw))
                    })
            })
            .collect(),
        SimulationPlan::Intervention(_) => {
            // Per persona (a sequence's own row has no persona): the calibration's unit.
            let personal: Vec<Prediction> = predictions
                .into_iter()
                .filter(|p| p.persona_id.is_some())
                .collect();
            averaged(&personal, |p| p.variant.clone(), map)
                .into_iter()
                .map(|(variant, (raw, calibrated))| CalibratedFigure {
                    variant,
                    ..blank("response_rate", raw, calibrated)
                })
                .collect()
        }
        SimulationPlan::Individual(_) => predictions
            .iter()
            .filter_map(|p| {
                let raw = p.probability?;
                Some(CalibratedFigure {
                    persona_id: p.persona_id,
                    ..blank("positive_outcome_probability", raw, map.apply(raw))
                })
            })
            .collect(),
    }
}

/// Mean raw and mean calibrated probability of the predictions, per `key`.
fn averaged(
    predictions: &[Prediction],
    key: impl Fn(&Prediction) -> Option<String>,
    map: &Isotonic,
) -> BTreeMap<Option<String>, (f64, f64)> {
    let mut sums: BTreeMap<Option<String>, (f64, f64, u32)> = BTreeMap::new();
    for p in predictions {
        let Some(probability) = p.probability else {
            continue;
        };
        let entry = sums.entry(key(p)).or_default();
        entry.0 += probability;
        entry.1 += map.apply(probability);
        entry.2 += 1;
    }
    sums.into_iter()
        .map(|(k, (raw, calibrated, n))| (k, (raw / f64::from(n), calibrated / f64::from(n))))
        .collect()
}

/// Points as stored: `[predicted, calibrated]` pairs.
pub fn stored_points(map: &Isotonic) -> Vec<[f64; 2]> {
    map.points().iter().map(|&(x, y)| [x, y]).collect()
}

/// A stored fit's map, `None` if its points are not a valid isotonic map.
pub fn map_of(points: &[[f64; 2]]) -> Option<Isotonic> {
    Isotonic::from_points(points.iter().map(|p| (p[0], p[1])).collect())
}

/// A simulation's figures through `fit` (none when the fit is not applied, or its stored map
/// is unreadable).
pub fn calibrated(
    fit: CalibrationFit,
    plan: &SimulationPlan,
    results: &SimulationResults,
) -> CalibratedResults {
    let figures = match fit.applied.then(|| map_of(&fit.points)).flatten() {
        Some(map) => figures(plan, results, &map),
        None => Vec::new(),
    };
    CalibratedResults {
        calibration: fit,
        figures,
    }
}

/// The accuracy kind of a simulation kind.
pub fn kind_of(kind: SimulationKind) -> AccuracyKind {
    match kind {
        SimulationKind::FocusGroup => AccuracyKind::FocusGroup,
        SimulationKind::Marketing => AccuracyKind::Marketing,
        SimulationKind::Intervention => AccuracyKind::Intervention,
        SimulationKind::Individual => AccuracyKind::Individual,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use uuid::Uuid;

    use super::*;
    use crate::{
        accuracy::{OutcomeRow, PredictionRow},
        domain::OutcomeKind,
    };

    /// `n` single-client reactions, each predicted with `p` and ending well with probability
    /// `truth(p)`, a day apart so the held-out share is the newest.
    fn scenarios(n: usize, truth: impl Fn(f64) -> f64) -> AccuracyInputs {
        let mut rng = StdRng::seed_from_u64(5);
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        let mut inputs = AccuracyInputs::default();
        for i in 0..n {
            let simulation_id = Uuid::now_v7();
            let p = 0.05 + 0.9 * rng.random::<f64>();
            let at = start + Duration::hours(i as i64);
            inputs.predictions.push(PredictionRow {
                simulation_id,
                kind: SimulationKind::Individual,
                persona_id: Some(Uuid::nil()),
                property_id: None,
                segment: None,
                material: None,
                channel: None,
                variant: None,
                score: None,
                probability: Some(p),
                open_rate: None,
                click_rate: None,
                reply_rate: None,
                price: None,
                provider: "openai".into(),
                model: "gpt-4o-mini".into(),
                predicted_at: at,
            });
            inputs.outcomes.push(OutcomeRow {
                id: Uuid::now_v7(),
                kind: OutcomeKind::Scenario,
                occurred_on: at.date_naive() + Duration::days(3),
                property_id: None,
                persona_id: None,
                simulation_id: Some(simulation_id),
                reaction: None,
                amount: None,
                material: None,
                channel: None,
                segment: None,
                variant: None,
                sent: None,
                opened: None,
                clicked: None,
                replied: None,
                responded_touch: None,
                positive: Some(rng.random::<f64>() < truth(p)),
                interest: None,
            });
        }
        inputs
    }

    #[test]
    fn an_overconfident_model_is_fitted_and_applied() {
        let fits = fit(&scenarios(600, |p| p * p), 50);
        assert_eq!(fits.len(), 1);
        let fit = &fits[0];
        assert_eq!((fit.kind, fit.trials), (AccuracyKind::Individual, 600));
        assert!(fit.held_out.as_ref().unwrap().improvement > 0.0, "{fit:?}");
        assert_eq!(fit.not_applied_because(), None);
        // Said 50%, came true about a quarter of the time.
        let half = fit.map.apply(0.5);
        assert!((0.15..0.35).contains(&half), "{half}");
        // What is stored reads back as the same map.
        let stored = map_of(&stored_points(&fit.map)).unwrap();
        assert_eq!(stored.apply(0.5), half);
    }

    #[test]
    fn too_few_trials_get_no_fit_and_a_fit_that_does_not_help_is_not_applied() {
        assert!(fit(&scenarios(40, |p| p * p), 50).is_empty());
        let mut fitted = fit(&scenarios(600, |p| p * p), 50).remove(0);
        fitted.held_out = Some(HeldOut {
            method: METHOD.into(),
            fitted_on: 420,
            evaluated_on: 180,
            brier_raw: 0.2,
            brier_calibrated: 0.21,
            improvement: -0.01,
        });
        let why = fitted.not_applied_because().unwrap();
        assert!(
            why.contains("did not lower the Brier score (0.2000 raw, 0.2100 calibrated)"),
            "{why}"
        );
        fitted.held_out = None;
        assert!(
            fitted
                .not_applied_because()
                .unwrap()
                .contains("too few trials")
        );
    }

    #[test]
    fn a_single_entry_of_many_trials_is_not_split_for_holding_out() {
        let one_cell = super::super::stats::Trials {
            predicted: 0.4,
            successes: 300,
            trials: 1000,
        };
        assert_eq!(held_out(&[one_cell]), None);
    }

    #[test]
    fn a_stored_map_must_rise() {
        assert!(map_of(&[[0.2, 0.1], [0.6, 0.5]]).is_some());
        assert!(map_of(&[[0.2, 0.5], [0.6, 0.1]]).is_none());
        assert!(map_of(&[]).is_none());
        assert!(map_of(&[[0.2, 1.5]]).is_none());
    }
}
