//! Interventions: per outreach sequence, the chance a persona responds at least once, each
//! touch's response probability, and the interest and fatigue it leaves; the best sequence and
//! the touches that come too soon.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use troupe_shared::domain::{
    AgentResponse, Insight, InterventionPlan, Judgement, Recommendation, SimulationResults,
    TouchInsight, TouchJudgement, VariantInsight,
};
use uuid::Uuid;

use super::{Samples, confidence, mean, percent, round2, sample_factor, separation};

/// Annoyance above which a touch is flagged as too much.
const FATIGUE: f64 = 0.4;

pub fn aggregate(
    plan: &InterventionPlan,
    responses: &[AgentResponse],
    rng: &mut StdRng,
) -> SimulationResults {
    // (variant, persona, iteration) → touch index → judgement
    let mut sessions: BTreeMap<(usize, Uuid, u32), BTreeMap<usize, &TouchJudgement>> =
        BTreeMap::new();
    for r in responses {
        let (Judgement::Touch(j), Some(v)) = (&r.judgement, plan.variant_of_step(&r.step)) else {
            continue;
        };
        sessions
            .entry((v, r.persona_id, r.iteration))
            .or_default()
            .insert(r.round as usize, j);
    }
    let variants: Vec<VariantInsight> = plan
        .variants
        .iter()
        .enumerate()
        .map(|(v, variant)| {
            let mut any = Samples::default();
            let mut per_touch: Vec<(Samples, Vec<f64>, Vec<f64>)> =
                variant.touches.iter().map(|_| Default::default()).collect();
            for ((_, persona, _), touches) in
                sessions.range((v, Uuid::nil(), 0)..=(v, Uuid::max(), u32::MAX))
            {
                let silence: f64 = touches
                    .values()
                    .map(|j| 1.0 - j.response_probability)
                    .product();
                any.add(*persona, 1.0 - silence);
                for (k, j) in touches {
                    let (p, interest, annoyance) = &mut per_touch[*k];
                    p.add(*persona, j.response_probability);
                    interest.push(j.interest);
                    annoyance.push(j.annoyance);
                }
            }
            let personas = any.personas() as u32;
            let touches: Vec<TouchInsight> = variant
                .touches
                .iter()
                .zip(per_touch)
                .enumerate()
                .map(|(k, (touch, (p, interest, annoyance)))| TouchInsight {
                    touch: k as u32 + 1,
                    day: touch.day,
                    channel: touch.channel,
                    response_probability: p.estimate(rng),
                    mean_interest: mean(&interest),
                    mean_annoyance: mean(&annoyance),
                })
                .collect();
            VariantInsight {
                variant: variant.name.clone(),
                personas,
                expected_response_rate: any.estimate(rng),
                final_interest: touches.last().map_or(0.0, |t| t.mean_interest),
                final_annoyance: touches.last().map_or(0.0, |t| t.mean_annoyance),
                touches,
            }
        })
        .collect();

    let mut recommendations = Vec::new();
    let mut ranked: Vec<&VariantInsight> = variants.iter().collect();
    ranked.sort_by(|a, b| {
        b.expected_response_rate
            .mean
            .total_cmp(&a.expected_response_rate.mean)
    });
    if let Some(best) = ranked.first() {
        let runner_up = ranked.get(1);
        let clear = separation(
            &best.expected_response_rate,
            runner_up.map(|r| &r.expected_response_rate),
            best.personas as usize,
        );
        let title = match runner_up {
            Some(second) if clear < 1.0 => format!(
                "Inconclusive: \"{}\" leads \"{}\"",
                best.variant, second.variant
            ),
            _ => format!("Use the \"{}\" sequence", best.variant),
        };
        recommendations.push(Recommendation {
            kind: "sequence".to_owned(),
            title,
            detail: format!(
                "Expected response rate {} (95% CI {}–{}){}.",
                percent(best.expected_response_rate.mean),
                percent(best.expected_response_rate.ci95[0]),
                percent(best.expected_response_rate.ci95[1]),
                runner_up
                    .map(|s| format!(
                        " against {} for \"{}\"",
                        percent(s.expected_response_rate.mean),
                        s.variant
                    ))
                    .unwrap_or_default()
            ),
            effect: runner_up
                .map(|s| round2(best.expected_response_rate.mean - s.expected_response_rate.mean)),
            confidence: round2(clear * sample_factor(best.personas as usize)),
        });
    }
    // Timing: the contact that draws the most responses, and contacts that tire the persona.
    let touches = variants
        .iter()
        .flat_map(|v| v.touches.iter().map(move |t| (v, t)));
    if let Some((variant, touch)) = touches.clone().max_by(|a, b| {
        a.1.response_probability
            .mean
            .total_cmp(&b.1.response_probability.mean)
    }) {
        let previous_day = touch
            .touch
            .checked_sub(2)
            .and_then(|k| variant.touches.get(k as usize))
            .map(|t| touch.day - t.day);
        recommendations.push(Recommendation {
            kind: "timing".to_owned(),
            title: format!(
                "Best contact: {} on day {}",
                touch.channel.as_str().replace('_', " "),
                touch.day
            ),
            detail: format!(
                "Touch {} of \"{}\"{} draws a {} response probability (95% CI {}–{}).",
                touch.touch,
                variant.variant,
                previous_day
                    .map(|gap| format!(", {gap} days after the previous one,"))
                    .unwrap_or_default(),
                percent(touch.response_probability.mean),
                percent(touch.response_probability.ci95[0]),
                percent(touch.response_probability.ci95[1]),
            ),
            effect: None,
            confidence: confidence(
                touch.response_probability.ci95,
                1.0,
                variant.personas as usize,
            ),
        });
    }
    // Per sequence, the first touch that tires the panel.
    let tiring = variants.iter().filter_map(|v| {
        v.touches
            .iter()
            .find(|t| t.mean_annoyance >= FATIGUE)
            .map(|t| (v, t))
    });
    for (variant, touch) in tiring {
        recommendations.push(Recommendation {
            kind: "sequence".to_owned(),
            title: format!(
                "Space out \"{}\" before touch {}",
                variant.variant, touch.touch
            ),
            detail: format!(
                "Annoyance reaches {:.2} by touch {} (day {}); responses fall as fatigue rises.",
                touch.mean_annoyance, touch.touch, touch.day
            ),
            effect: None,
            confidence: round2(
                touch.mean_annoyance.min(1.0) * sample_factor(variant.personas as usize),
            ),
        });
    }
    let mut confidence_scores = BTreeMap::new();
    for v in &variants {
        confidence_scores.insert(
            format!("variant:{}", v.variant),
            confidence(v.expected_response_rate.ci95, 1.0, v.personas as usize),
        );
    }
    let summary = format!(
        "{} outreach sequence(s) tested on {} personas over {} iteration(s). Expected response rates: {}.",
        variants.len(),
        variants.iter().map(|v| v.personas).max().unwrap_or(0),
        plan.settings.iterations,
        variants
            .iter()
            .map(|v| format!(
                "\"{}\" {}",
                v.variant,
                percent(v.expected_response_rate.mean)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    SimulationResults {
        summary,
        recommendations,
        confidence_scores,
        detailed_insights: variants.into_iter().map(Insight::Variant).collect(),
        raw_responses: Vec::new(),
        warnings: Vec::new(),
        failed_steps: Vec::new(),
    }
}
