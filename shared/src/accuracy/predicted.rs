//! What a completed simulation predicted, in the form outcomes are later held against: per
//! stored client where the prediction is about a client (their intent for the listing, their
//! chance of answering a sequence, their reaction to a scenario), per cell or sequence where it
//! is about an audience.
//!
//! The worker stores the stored clients' predictions, for outcomes to be held against; a
//! calibration recalibrates every persona's, for the results to show.

use std::collections::{BTreeMap, HashSet};

use uuid::Uuid;

use crate::domain::{
    FocusGroupPlan, Insight, InterventionPlan, Judgement, Prediction, SimulationKind,
    SimulationPlan, SimulationResults,
};

/// Whose predictions to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// The brokerage's stored clients, about a stored listing: what outcomes can name.
    StoredClients,
    /// Every persona of the panel, generated ones too.
    EveryPersona,
}

pub fn predictions(
    plan: &SimulationPlan,
    results: &SimulationResults,
    whose: Whose,
) -> Vec<Prediction> {
    let stored: HashSet<Uuid> = plan.stored_persona_ids().into_iter().collect();
    let counts = |persona: &Uuid| whose == Whose::EveryPersona || stored.contains(persona);
    match plan {
        SimulationPlan::FocusGroup(p) => {
            if whose == Whose::StoredClients && p.property_id.is_none() {
                // An inline listing has no showings to be recorded against.
                return Vec::new();
            }
            focus_group(p, results, &counts)
        }
        SimulationPlan::Marketing(_) => marketing(results),
        SimulationPlan::Intervention(p) => intervention(p, results, &counts),
        SimulationPlan::Individual(_) => individual(results, &counts),
    }
}

fn blank(kind: SimulationKind) -> Prediction {
    Prediction {
        kind,
        persona_id: None,
        property_id: None,
        segment: None,
        material: None,
        channel: None,
        variant: None,
        score: None,
        probability: None,
        rates: None,
        price: None,
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Each stored client's intent and purchase probability as the discussion left them (the last
/// view before any modification was put), averaged over iterations: what a showing tests.
fn focus_group(
    plan: &FocusGroupPlan,
    results: &SimulationResults,
    counts: &impl Fn(&Uuid) -> bool,
) -> Vec<Prediction> {
    let views = (plan.questions.len() + plan.discussion_rounds as usize) as u32;
    // (persona, iteration) → (round, segment, intent, probability) of the latest view
    let mut last: BTreeMap<(Uuid, u32), (u32, &str, f64, f64)> = BTreeMap::new();
    for r in &results.raw_responses {
        let Judgement::Listing(j) = &r.judgement else {
            continue;
        };
        if r.round >= views || !counts(&r.persona_id) {
            continue;
        }
        let view = (
            r.round,
            r.segment.as_str(),
            f64::from(j.purchase_intent),
            j.purchase_probability,
        );
        last.entry((r.persona_id, r.iteration))
            .and_modify(|v| {
                if view.0 >= v.0 {
                    *v = view;
                }
            })
            .or_insert(view);
    }
    let mut by_persona: BTreeMap<Uuid, (&str, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for ((persona, _), (_, segment, intent, probability)) in last {
        let entry = by_persona
            .entry(persona)
            .or_insert_with(|| (segment, Vec::new(), Vec::new()));
        entry.1.push(intent);
        entry.2.push(probability);
    }
    let mut predictions: Vec<Prediction> = by_persona
        .into_iter()
        .map(|(persona, (segment, intents, probabilities))| Prediction {
            persona_id: Some(persona),
            property_id: plan.property_id,
            segment: Some(segment.to_owned()),
            score: Some(mean(&intents)),
            probability: Some(mean(&probabilities)),
            ..blank(SimulationKind::FocusGroup)
        })
        .collect();
    // The price the panel suggests, when any persona named one: what a sale is held against.
    let suggested = results.detailed_insights.iter().find_map(|i| match i {
        Insight::Pricing(p) if p.bidders > 0 && p.suggested_price > 0.0 => Some(p.suggested_price),
        _ => None,
    });
    if let Some(price) = suggested {
        predictions.push(Prediction {
            property_id: plan.property_id,
            price: Some(price),
            ..blank(SimulationKind::FocusGroup)
        });
    }
    predictions
}

/// Every material × channel × segment cell's open, click and reply rates.
fn marketing(results: &SimulationResults) -> Vec<Prediction> {
    results
        .detailed_insights
        .iter()
        .filter_map(|insight| match insight {
            Insight::Engagement(e) => Some(Prediction {
                segment: Some(e.segment.clone()),
                material: Some(e.material.clone()),
                channel: Some(e.channel),
                rates: Some([e.open_rate.mean, e.click_rate.mean, e.reply_rate.mean]),
                ..blank(SimulationKind::Marketing)
            }),
            _ => None,
        })
        .collect()
}

/// Each sequence's expected response rate, and each stored client's chance of answering it at
/// least once (averaged over iterations).
fn intervention(
    plan: &InterventionPlan,
    results: &SimulationResults,
    counts: &impl Fn(&Uuid) -> bool,
) -> Vec<Prediction> {
    let mut predictions: Vec<Prediction> = results
        .detailed_insights
        .iter()
        .filter_map(|insight| match insight {
            Insight::Variant(v) => Some(Prediction {
                variant: Some(v.variant.clone()),
                probability: Some(v.expected_response_rate.mean),
                ..blank(SimulationKind::Intervention)
            }),
            _ => None,
        })
        .collect();
    // (variant, persona, iteration) → chance of staying silent through every touch
    let mut silence: BTreeMap<(usize, Uuid, u32), f64> = BTreeMap::new();
    for r in &results.raw_responses {
        let (Judgement::Touch(j), Some(v)) = (&r.judgement, plan.variant_of_step(&r.step)) else {
            continue;
        };
        if counts(&r.persona_id) {
            *silence.entry((v, r.persona_id, r.iteration)).or_insert(1.0) *=
                1.0 - j.response_probability;
        }
    }
    let mut by_persona: BTreeMap<(usize, Uuid), Vec<f64>> = BTreeMap::new();
    for ((v, persona, _), quiet) in silence {
        by_persona
            .entry((v, persona))
            .or_default()
            .push(1.0 - quiet);
    }
    predictions.extend(
        by_persona
            .into_iter()
            .map(|((v, persona), chances)| Prediction {
                persona_id: Some(persona),
                variant: Some(plan.variants[v].name.clone()),
                probability: Some(mean(&chances)),
                ..blank(SimulationKind::Intervention)
            }),
    );
    predictions
}

/// The client's expected interest and the chance the scenario ends well.
fn individual(results: &SimulationResults, counts: &impl Fn(&Uuid) -> bool) -> Vec<Prediction> {
    results
        .detailed_insights
        .iter()
        .filter_map(|insight| match insight {
            Insight::Outcome(o) if counts(&o.persona_id) => Some(Prediction {
                persona_id: Some(o.persona_id),
                score: Some(o.expected_interest),
                probability: Some(o.positive_outcome_probability),
                ..blank(SimulationKind::Individual)
            }),
            _ => None,
        })
        .collect()
}
