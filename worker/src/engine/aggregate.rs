//! From individual answers to insights: per-segment intent with bootstrap intervals, the effect of
//! each modification, what personas liked and disliked, and ranked recommendations whose
//! confidence reflects agreement and sample size.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng, rngs::StdRng};
use troupe_shared::domain::{
    AgentResponse, FocusGroupPlan, Mention, ModificationEffect, Recommendation, SegmentInsight,
    SimulationResults,
};
use uuid::Uuid;

use super::prompt::money;

const BOOTSTRAP_SAMPLES: usize = 1000;
const TOP_MENTIONS: usize = 5;

/// One persona in one iteration: its answers averaged over the questions.
struct Unit {
    intent: f64,
    probability: f64,
    willingness_to_pay: Option<f64>,
    effects: BTreeMap<String, f64>,
    likes: BTreeSet<String>,
    dislikes: BTreeSet<String>,
}

/// A persona's units across iterations, in a segment.
struct Participant {
    segment: String,
    units: Vec<Unit>,
}

pub fn aggregate_focus_group(
    plan: &FocusGroupPlan,
    responses: Vec<AgentResponse>,
) -> SimulationResults {
    let participants = participants(&responses);
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut segments: BTreeMap<&str, Vec<&Participant>> = BTreeMap::new();
    for p in participants.values() {
        segments.entry(p.segment.as_str()).or_default().push(p);
    }
    let insights: Vec<SegmentInsight> = segments
        .iter()
        .map(|(segment, members)| segment_insight(segment, members, &plan.modifications, &mut rng))
        .collect();
    let everyone: Vec<&Participant> = participants.values().collect();
    let overall = segment_insight("all", &everyone, &plan.modifications, &mut rng);

    let mut recommendations = modification_recommendations(&overall, everyone.len());
    recommendations.extend(segment_recommendation(&insights));
    recommendations.extend(pricing_recommendation(plan, &overall));
    recommendations.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));

    let mut confidence_scores = BTreeMap::new();
    confidence_scores.insert(
        "overall".to_owned(),
        interval_confidence(&overall.intent_ci95, everyone.len()),
    );
    for insight in &insights {
        confidence_scores.insert(
            format!("segment:{}", insight.segment),
            interval_confidence(&insight.intent_ci95, insight.personas as usize),
        );
    }
    SimulationResults {
        summary: summary(plan, &overall, &insights, &recommendations),
        recommendations,
        confidence_scores,
        detailed_insights: insights,
        raw_responses: responses,
    }
}

fn participants(responses: &[AgentResponse]) -> BTreeMap<Uuid, Participant> {
    let mut grouped: BTreeMap<(Uuid, u32), Vec<&AgentResponse>> = BTreeMap::new();
    for r in responses {
        grouped
            .entry((r.persona_id, r.iteration))
            .or_default()
            .push(r);
    }
    let mut participants: BTreeMap<Uuid, Participant> = BTreeMap::new();
    for ((persona_id, _), answers) in grouped {
        let n = answers.len() as f64;
        let mut effects: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for a in &answers {
            for (m, e) in &a.judgement.modification_effects {
                let entry = effects.entry(m.clone()).or_default();
                entry.0 += f64::from(*e);
                entry.1 += 1.0;
            }
        }
        let wtp: Vec<f64> = answers
            .iter()
            .filter_map(|a| a.judgement.willingness_to_pay)
            .collect();
        let unit = Unit {
            intent: answers
                .iter()
                .map(|a| f64::from(a.judgement.purchase_intent))
                .sum::<f64>()
                / n,
            probability: answers
                .iter()
                .map(|a| a.judgement.purchase_probability)
                .sum::<f64>()
                / n,
            willingness_to_pay: (!wtp.is_empty())
                .then(|| wtp.iter().sum::<f64>() / wtp.len() as f64),
            effects: effects
                .into_iter()
                .map(|(m, (sum, count))| (m, sum / count))
                .collect(),
            likes: answers
                .iter()
                .flat_map(|a| a.judgement.likes.iter().map(|l| normalize(l)))
                .collect(),
            dislikes: answers
                .iter()
                .flat_map(|a| a.judgement.dislikes.iter().map(|d| normalize(d)))
                .collect(),
        };
        participants
            .entry(persona_id)
            .or_insert_with(|| Participant {
                segment: answers[0].segment.clone(),
                units: Vec::new(),
            })
            .units
            .push(unit);
    }
    participants
}

fn segment_insight(
    segment: &str,
    members: &[&Participant],
    modifications: &[String],
    rng: &mut StdRng,
) -> SegmentInsight {
    let units: Vec<&Unit> = members.iter().flat_map(|p| &p.units).collect();
    let intents: Vec<f64> = units.iter().map(|u| u.intent).collect();
    let wtp: Vec<f64> = units.iter().filter_map(|u| u.willingness_to_pay).collect();
    let modification_effects = modifications
        .iter()
        .map(|m| {
            let per_persona: Vec<f64> = members
                .iter()
                .filter_map(|p| mean_of(p.units.iter().filter_map(|u| u.effects.get(m).copied())))
                .collect();
            ModificationEffect {
                modification: m.clone(),
                mean_effect: mean(&per_persona),
                effect_ci95: bootstrap(members, rng, |u| u.effects.get(m).copied()),
                positive_share: share(&per_persona, |e| e > 0.0),
            }
        })
        .collect();
    SegmentInsight {
        segment: segment.to_owned(),
        personas: members.len() as u32,
        responses: units.len() as u32,
        mean_intent: mean(&intents),
        intent_stddev: stddev(&intents),
        intent_ci95: bootstrap(members, rng, |u| Some(u.intent)),
        mean_purchase_probability: mean(&units.iter().map(|u| u.probability).collect::<Vec<_>>()),
        mean_willingness_to_pay: (!wtp.is_empty()).then(|| mean(&wtp)),
        top_likes: top_mentions(units.iter().flat_map(|u| &u.likes)),
        top_dislikes: top_mentions(units.iter().flat_map(|u| &u.dislikes)),
        modification_effects,
    }
}

/// 95% percentile interval of the mean, resampling personas and then one of each persona's
/// iterations, so both the panel and the model's run-to-run variation are reflected.
fn bootstrap(
    members: &[&Participant],
    rng: &mut StdRng,
    value: impl Fn(&Unit) -> Option<f64>,
) -> [f64; 2] {
    let usable: Vec<Vec<f64>> = members
        .iter()
        .map(|p| p.units.iter().filter_map(&value).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .collect();
    if usable.is_empty() {
        return [0.0, 0.0];
    }
    let mut means: Vec<f64> = (0..BOOTSTRAP_SAMPLES)
        .map(|_| {
            let sum: f64 = (0..usable.len())
                .map(|_| {
                    let persona = &usable[rng.random_range(0..usable.len())];
                    persona[rng.random_range(0..persona.len())]
                })
                .sum();
            sum / usable.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| round2(means[((means.len() - 1) as f64 * q).round() as usize]);
    [at(0.025), at(0.975)]
}

fn modification_recommendations(overall: &SegmentInsight, panel: usize) -> Vec<Recommendation> {
    overall
        .modification_effects
        .iter()
        .map(|e| {
            let [low, high] = e.effect_ci95;
            let (title, agreement) = if low > 0.0 {
                (format!("Make the change: {}", e.modification), e.positive_share)
            } else if high < 0.0 {
                (format!("Avoid: {}", e.modification), 1.0 - e.positive_share)
            } else {
                (format!("Inconclusive: {}", e.modification), 0.5)
            };
            Recommendation {
                kind: "modification".to_owned(),
                title,
                detail: format!(
                    "Changes purchase intent by {:+.2} points (95% CI {:+.2} to {:+.2}); raises it for {:.0}% of the panel.",
                    e.mean_effect, low, high, e.positive_share * 100.0
                ),
                confidence: round2(agreement * sample_factor(panel)),
            }
        })
        .collect()
}

fn segment_recommendation(insights: &[SegmentInsight]) -> Option<Recommendation> {
    let mut ranked: Vec<&SegmentInsight> = insights.iter().collect();
    ranked.sort_by(|a, b| b.mean_intent.total_cmp(&a.mean_intent));
    let best = ranked.first()?;
    let runner_up = ranked.get(1);
    // A lead under a tenth of a Likert point is no lead at all.
    let tied = runner_up.is_some_and(|second| best.mean_intent - second.mean_intent < 0.1);
    // Confident when the best segment's interval clears the runner-up's.
    let separation = runner_up.map_or(0.5, |second| {
        if best.intent_ci95[0] > second.intent_ci95[1] {
            1.0
        } else {
            0.5
        }
    });
    let title = match runner_up {
        Some(second) if tied => format!(
            "No segment stands out: {} and {} are level",
            best.segment.replace('_', " "),
            second.segment.replace('_', " ")
        ),
        _ => format!("Market to {}", best.segment.replace('_', " ")),
    };
    Some(Recommendation {
        kind: "target_segment".to_owned(),
        title,
        detail: format!(
            "Highest purchase intent: {:.2}/5 (95% CI {:.2}–{:.2}) across {} personas.{}",
            best.mean_intent,
            best.intent_ci95[0],
            best.intent_ci95[1],
            best.personas,
            ranked
                .get(1)
                .map(|s| format!(
                    " Next: {} at {:.2}/5.",
                    s.segment.replace('_', " "),
                    s.mean_intent
                ))
                .unwrap_or_default()
        ),
        confidence: round2(separation * sample_factor(best.personas as usize)),
    })
}

fn pricing_recommendation(
    plan: &FocusGroupPlan,
    overall: &SegmentInsight,
) -> Option<Recommendation> {
    let wtp = overall.mean_willingness_to_pay?;
    let price = plan.property.price;
    let gap = wtp / price - 1.0;
    let title = if gap < -0.05 {
        "Price is above what interested buyers would pay"
    } else if gap > 0.05 {
        "Price leaves room: interested buyers would pay more"
    } else {
        "Price is in line with interested buyers"
    };
    Some(Recommendation {
        kind: "pricing".to_owned(),
        title: title.to_owned(),
        detail: format!(
            "Interested personas would pay {} {} on average, {:+.1}% against the list price of {}.",
            plan.property.currency,
            money(wtp),
            gap * 100.0,
            money(price)
        ),
        confidence: round2(
            overall.mean_purchase_probability.clamp(0.2, 1.0)
                * sample_factor(overall.personas as usize),
        ),
    })
}

fn summary(
    plan: &FocusGroupPlan,
    overall: &SegmentInsight,
    insights: &[SegmentInsight],
    recommendations: &[Recommendation],
) -> String {
    let mut text = format!(
        "{} personas in {} segment(s) answered {} question(s) about \"{}\" over {} iteration(s). \
         Mean purchase intent {:.2}/5 (95% CI {:.2}–{:.2}).",
        overall.personas,
        insights.len(),
        plan.questions.len(),
        plan.property.title,
        plan.iterations,
        overall.mean_intent,
        overall.intent_ci95[0],
        overall.intent_ci95[1],
    );
    if let Some(top) = recommendations.first() {
        text.push_str(&format!(" Strongest finding: {}.", top.title));
    }
    text
}

fn top_mentions<'a>(items: impl Iterator<Item = &'a String>) -> Vec<Mention> {
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for item in items {
        *counts.entry(item).or_default() += 1;
    }
    let mut ranked: Vec<Mention> = counts
        .into_iter()
        .map(|(text, count)| Mention {
            text: text.to_owned(),
            count,
        })
        .collect();
    ranked.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(&b.text)));
    ranked.truncate(TOP_MENTIONS);
    ranked
}

fn normalize(text: &str) -> String {
    text.trim().trim_end_matches('.').to_lowercase()
}

/// Confidence from an interval's width on the 1–5 scale and the panel's size.
fn interval_confidence(ci: &[f64; 2], panel: usize) -> f64 {
    round2(((1.0 - (ci[1] - ci[0]) / 4.0).clamp(0.0, 1.0)) * sample_factor(panel))
}

/// Small panels earn less confidence: 0 for one persona, 0.5 at 4, 0.9 at 100.
fn sample_factor(panel: usize) -> f64 {
    1.0 - 1.0 / (panel.max(1) as f64).sqrt()
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        round2(values.iter().sum::<f64>() / values.len() as f64)
    }
}

fn mean_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    let values: Vec<f64> = values.collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn stddev(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = values.iter().sum::<f64>() / values.len() as f64;
    round2((values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt())
}

fn share(values: &[f64], pred: impl Fn(f64) -> bool) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        round2(values.iter().filter(|v| pred(**v)).count() as f64 / values.len() as f64)
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use troupe_shared::domain::{Judgement, PropertyDetails};

    use super::*;

    fn response(
        persona: u128,
        segment: &str,
        iteration: u32,
        intent: u8,
        effect: i8,
    ) -> AgentResponse {
        AgentResponse {
            persona_id: Uuid::from_u128(persona),
            persona_name: format!("P{persona}"),
            segment: segment.to_owned(),
            iteration,
            question: "Buy?".to_owned(),
            answer: "…".to_owned(),
            judgement: Judgement {
                purchase_intent: intent,
                purchase_probability: f64::from(intent) / 5.0,
                willingness_to_pay: (intent >= 3).then_some(9e6),
                likes: vec!["Pool.".to_owned()],
                dislikes: vec![],
                modification_effects: BTreeMap::from([("Add a spa".to_owned(), effect)]),
            },
        }
    }

    fn plan() -> FocusGroupPlan {
        FocusGroupPlan {
            property_id: None,
            property: PropertyDetails {
                title: "Villa".into(),
                price: 10e6,
                currency: "USD".into(),
                ..Default::default()
            },
            persona_ids: vec![],
            questions: vec!["Buy?".into()],
            modifications: vec!["Add a spa".into()],
            iterations: 2,
            temperature: 0.7,
            seed: 1,
            token_budget: 1_000_000,
        }
    }

    #[test]
    fn segments_are_summarised_with_intervals_around_their_means() {
        let mut responses = Vec::new();
        for persona in 0..6 {
            for iteration in 0..2 {
                responses.push(response(
                    persona,
                    "tech",
                    iteration,
                    4 + (persona % 2) as u8,
                    1,
                ));
                responses.push(response(100 + persona, "finance", iteration, 2, -1));
            }
        }
        let results = aggregate_focus_group(&plan(), responses);
        let [finance, tech] = [&results.detailed_insights[0], &results.detailed_insights[1]];
        assert_eq!(
            (
                finance.segment.as_str(),
                finance.personas,
                finance.responses
            ),
            ("finance", 6, 12)
        );
        assert_eq!(tech.mean_intent, 4.5);
        assert!(
            tech.intent_ci95[0] <= 4.5 && 4.5 <= tech.intent_ci95[1],
            "{tech:?}"
        );
        assert_eq!(finance.intent_ci95, [2.0, 2.0], "no spread, no width");
        assert_eq!(
            tech.top_likes[0],
            Mention {
                text: "pool".into(),
                count: 12
            }
        );
        assert_eq!(tech.modification_effects[0].positive_share, 1.0);
        let target = results
            .recommendations
            .iter()
            .find(|r| r.kind == "target_segment")
            .unwrap();
        assert_eq!(target.title, "Market to tech");
        // Half the panel gains and half loses from the spa: no confident verdict either way.
        let spa = results
            .recommendations
            .iter()
            .find(|r| r.kind == "modification")
            .unwrap();
        assert!(spa.title.starts_with("Inconclusive"), "{spa:?}");
        assert_eq!(results.raw_responses.len(), 24);
    }

    #[test]
    fn level_segments_get_no_winner() {
        let responses: Vec<_> = (0..4)
            .flat_map(|p| {
                [
                    response(p, "tech", 0, 4, 0),
                    response(10 + p, "finance", 0, 4, 0),
                ]
            })
            .collect();
        let results = aggregate_focus_group(&plan(), responses);
        let target = results
            .recommendations
            .iter()
            .find(|r| r.kind == "target_segment")
            .unwrap();
        assert!(
            target.title.starts_with("No segment stands out"),
            "{target:?}"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_intervals() {
        let responses: Vec<_> = (0..8)
            .map(|p| response(p, "tech", 0, 1 + (p % 5) as u8, 0))
            .collect();
        assert_eq!(
            aggregate_focus_group(&plan(), responses.clone()),
            aggregate_focus_group(&plan(), responses)
        );
    }
}
