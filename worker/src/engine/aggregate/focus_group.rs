//! Focus groups: per-segment intent with intervals and its Likert distribution, photo ranking
//! with support, each modification's effect (intent after it − intent just before), and
//! willingness to pay against the list price.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use troupe_shared::domain::{
    AgentResponse, FocusGroupPlan, Insight, Judgement, ListingJudgement, ModificationEffect,
    OrderEffect, PhotoInsight, PricingInsight, Recommendation, SegmentInsight, SimulationResults,
};
use uuid::Uuid;

use super::{
    Samples, confidence, level_or_close, mean, percent, questions, round2, sample_factor,
    separation, share, stddev, top_mentions,
};
use crate::{
    engine::{
        order::shown_photo_order,
        prompt::{judgeable_photos, money},
        ssr,
    },
    sentence_model::SentenceModel,
};

/// One persona in one iteration.
#[derive(Default)]
struct Unit {
    /// Answers to the questions and discussion rounds.
    views: Vec<ListingJudgement>,
    /// The intent held just before the modifications: the last view.
    baseline: Option<f64>,
    /// Intent after each modification, by its index.
    after: BTreeMap<usize, f64>,
    photos: Vec<(u32, u8)>,
    iteration: u32,
}

struct Panel<'a> {
    /// (persona, segment, unit) for every persona × iteration.
    units: Vec<(Uuid, &'a str, Unit)>,
}

/// `model`: the sentence-embedding model the free-text themes group by meaning with, if any.
pub fn aggregate(
    plan: &FocusGroupPlan,
    responses: &[AgentResponse],
    model: Option<&SentenceModel>,
    rng: &mut StdRng,
) -> SimulationResults {
    let panel = panel(plan, responses);
    let segments: BTreeSet<&str> = panel.units.iter().map(|(_, s, _)| *s).collect();
    let mut insights: Vec<SegmentInsight> = segments
        .iter()
        .map(|segment| segment_insight(plan, &panel, Some(segment), rng))
        .collect();
    let overall = segment_insight(plan, &panel, None, rng);
    let photos = photo_insights(plan, &panel, rng);
    let unjudged = unjudged_photos(plan, &photos);
    let pricing = pricing_insight(plan, &panel);
    let (questions, question_recommendations) = questions::insights(plan, responses, model, rng);

    let mut recommendations: Vec<Recommendation> = overall
        .modification_effects
        .iter()
        .map(|e| modification_recommendation(e, overall.personas as usize))
        .collect();
    recommendations.extend(segment_recommendation(&insights));
    recommendations.extend(photo_recommendation(&photos, overall.personas as usize));
    recommendations.extend(pricing.as_ref().map(pricing_recommendation));

    let mut confidence_scores = BTreeMap::new();
    confidence_scores.insert(
        "overall".to_owned(),
        confidence(overall.intent_ci95, 4.0, overall.personas as usize),
    );
    for insight in &insights {
        confidence_scores.insert(
            format!("segment:{}", insight.segment),
            confidence(insight.intent_ci95, 4.0, insight.personas as usize),
        );
    }
    for e in &overall.modification_effects {
        confidence_scores.insert(
            format!("modification:{}", e.modification),
            confidence(e.effect_ci95, 4.0, overall.personas as usize),
        );
    }
    for p in &photos {
        confidence_scores.insert(
            format!("photo:{}", p.photo),
            confidence(p.appeal.ci95, 4.0, overall.personas as usize),
        );
    }
    for (question, r) in question_recommendations {
        confidence_scores.insert(format!("question:{question}"), r.confidence);
        recommendations.push(r);
    }
    let summary = summary(plan, &overall, insights.len(), &recommendations);
    let mut detailed_insights: Vec<Insight> = Vec::new();
    detailed_insights.extend(insights.drain(..).map(Insight::Segment));
    detailed_insights.extend(photos.into_iter().map(Insight::Photo));
    detailed_insights.extend(
        overall
            .modification_effects
            .into_iter()
            .map(Insight::Modification),
    );
    detailed_insights.extend(pricing.map(Insight::Pricing));
    detailed_insights.extend(questions.into_iter().map(Insight::Question));
    SimulationResults {
        summary,
        recommendations,
        confidence_scores,
        detailed_insights,
        raw_responses: Vec::new(),
        warnings: unjudged.into_iter().collect(),
        failed_steps: Vec::new(),
    }
}

fn panel<'a>(plan: &FocusGroupPlan, responses: &'a [AgentResponse]) -> Panel<'a> {
    let views = (plan.questions.len() + plan.discussion_rounds as usize) as u32;
    let mut units: BTreeMap<(Uuid, u32), (&str, Unit)> = BTreeMap::new();
    let mut sorted: Vec<&AgentResponse> = responses.iter().collect();
    sorted.sort_by_key(|r| r.round);
    for r in sorted {
        let Judgement::Listing(j) = &r.judgement else {
            continue;
        };
        let (_, unit) = units.entry((r.persona_id, r.iteration)).or_insert_with(|| {
            let unit = Unit {
                iteration: r.iteration,
                ..Unit::default()
            };
            (r.segment.as_str(), unit)
        });
        if r.round < views {
            unit.baseline = Some(f64::from(j.purchase_intent));
            unit.photos
                .extend(j.photo_appeal.iter().map(|a| (a.photo, a.appeal)));
            unit.views.push(j.clone());
        } else {
            unit.after
                .insert((r.round - views) as usize, f64::from(j.purchase_intent));
        }
    }
    Panel {
        units: units
            .into_iter()
            .map(|((persona, _), (segment, unit))| (persona, segment, unit))
            .collect(),
    }
}

fn segment_insight(
    plan: &FocusGroupPlan,
    panel: &Panel<'_>,
    segment: Option<&str>,
    rng: &mut StdRng,
) -> SegmentInsight {
    let members: Vec<&(Uuid, &str, Unit)> = panel
        .units
        .iter()
        .filter(|(_, s, u)| segment.is_none_or(|segment| *s == segment) && !u.views.is_empty())
        .collect();
    let mut intent = Samples::default();
    let mut probability = Vec::new();
    let mut wtp = Vec::new();
    let mut pmf = [0.0; 5];
    let mut likes = Vec::new();
    let mut dislikes = Vec::new();
    for (persona, _, unit) in &members {
        let n = unit.views.len() as f64;
        intent.add(
            *persona,
            unit.views
                .iter()
                .map(|v| f64::from(v.purchase_intent))
                .sum::<f64>()
                / n,
        );
        probability.push(
            unit.views
                .iter()
                .map(|v| v.purchase_probability)
                .sum::<f64>()
                / n,
        );
        let bids: Vec<f64> = unit
            .views
            .iter()
            .filter_map(|v| v.willingness_to_pay)
            .collect();
        if !bids.is_empty() {
            wtp.push(bids.iter().sum::<f64>() / bids.len() as f64);
        }
        for view in &unit.views {
            for (k, p) in view.intent_distribution.iter().enumerate() {
                pmf[k] += p / n / members.len() as f64;
            }
        }
        // Each persona counts a like once per iteration, however often it repeats it.
        let unique = |items: &mut dyn Iterator<Item = &String>| -> BTreeSet<String> {
            items.map(|i| super::normalize(i)).collect()
        };
        likes.extend(unique(&mut unit.views.iter().flat_map(|v| &v.likes)));
        dislikes.extend(unique(&mut unit.views.iter().flat_map(|v| &v.dislikes)));
    }
    let personas = members
        .iter()
        .map(|(p, ..)| p)
        .collect::<BTreeSet<_>>()
        .len();
    let pmf = pmf.map(round2);
    let estimate = intent.estimate(rng);
    SegmentInsight {
        segment: segment.unwrap_or("all").to_owned(),
        personas: personas as u32,
        responses: members.iter().map(|(_, _, u)| u.views.len() as u32).sum(),
        mean_intent: estimate.mean,
        intent_stddev: stddev(&intent.values()),
        intent_ci95: estimate.ci95,
        intent_distribution: pmf,
        distribution_stddev: round2(ssr::stddev(&pmf)),
        mean_purchase_probability: mean(&probability),
        mean_willingness_to_pay: (!wtp.is_empty()).then(|| mean(&wtp)),
        top_likes: top_mentions(likes.iter()),
        top_dislikes: top_mentions(dislikes.iter()),
        modification_effects: plan
            .modifications
            .iter()
            .enumerate()
            .map(|(m, change)| modification_effect(change, m, &members, rng))
            .collect(),
    }
}

fn modification_effect(
    change: &str,
    index: usize,
    members: &[&(Uuid, &str, Unit)],
    rng: &mut StdRng,
) -> ModificationEffect {
    let (mut effect, mut before, mut after) = (Samples::default(), Vec::new(), Vec::new());
    for (persona, _, unit) in members {
        if let (Some(b), Some(a)) = (unit.baseline, unit.after.get(&index)) {
            effect.add(*persona, a - b);
            before.push(b);
            after.push(*a);
        }
    }
    let estimate = effect.estimate(rng);
    ModificationEffect {
        modification: change.to_owned(),
        intent_before: mean(&before),
        intent_after: mean(&after),
        mean_effect: estimate.mean,
        effect_ci95: estimate.ci95,
        positive_share: share(&effect.values(), |e| e > 0.0),
    }
}

fn photo_insights(plan: &FocusGroupPlan, panel: &Panel<'_>, rng: &mut StdRng) -> Vec<PhotoInsight> {
    let mut appeal: BTreeMap<u32, Samples> = BTreeMap::new();
    let mut shown_first: BTreeMap<u32, Samples> = BTreeMap::new();
    let mut best: BTreeMap<u32, f64> = BTreeMap::new();
    let mut raters = 0;
    let judgeable = judgeable_photos(&plan.property);
    for (persona, _, unit) in &panel.units {
        let Some(top) = unit.photos.iter().map(|(_, score)| *score).max() else {
            continue;
        };
        raters += 1;
        // The photo this persona saw first, as the run showed it, and how they rated it.
        let first = shown_photo_order(plan.settings.seed, *persona, unit.iteration, &judgeable)
            .first()
            .copied();
        if let Some((photo, score)) = unit.photos.iter().find(|(p, _)| Some(*p) == first) {
            shown_first
                .entry(*photo)
                .or_default()
                .add(*persona, f64::from(*score));
        }
        // The photo a persona rated highest; photos tied at the top share its vote.
        let leaders: Vec<u32> = unit
            .photos
            .iter()
            .filter(|(_, score)| *score == top)
            .map(|(photo, _)| *photo)
            .collect();
        for photo in &leaders {
            *best.entry(*photo).or_default() += 1.0 / leaders.len() as f64;
        }
        for (photo, score) in &unit.photos {
            appeal
                .entry(*photo)
                .or_default()
                .add(*persona, f64::from(*score));
        }
    }
    let mut insights: Vec<PhotoInsight> = appeal
        .into_iter()
        .filter_map(|(photo, samples)| {
            let source = plan.property.photos.get(photo as usize - 1)?;
            let appeal = samples.estimate(rng);
            let order_effect = shown_first.get(&photo).map(|first| OrderEffect {
                first_shown: first.estimate(rng),
                without_bias: appeal.mean,
            });
            Some(PhotoInsight {
                rank: 0,
                photo,
                url: source.url.clone(),
                description: source.description.clone(),
                appeal,
                order_effect,
                support: round2(
                    best.get(&photo).copied().unwrap_or(0.0) / f64::from(raters.max(1)),
                ),
            })
        })
        .collect();
    insights.sort_by(|a, b| {
        b.appeal
            .mean
            .total_cmp(&a.appeal.mean)
            .then(b.support.total_cmp(&a.support))
            .then(a.photo.cmp(&b.photo))
    });
    // Equal appeal is an equal rank: a tie is not a lead.
    for i in 0..insights.len() {
        insights[i].rank = match i {
            0 => 1,
            _ if insights[i].appeal.mean == insights[i - 1].appeal.mean => insights[i - 1].rank,
            _ => i as u32 + 1,
        };
    }
    insights
}

/// Photos the panel could not judge: without a caption a model that reads text has nothing to
/// go on, so they are named rather than ranked.
fn unjudged_photos(plan: &FocusGroupPlan, judged: &[PhotoInsight]) -> Option<String> {
    let unjudged: Vec<String> = (1..=plan.property.photos.len() as u32)
        .filter(|n| !judged.iter().any(|p| p.photo == *n))
        .map(|n| n.to_string())
        .collect();
    match unjudged.as_slice() {
        [] => None,
        [one] => Some(format!(
            "photo {one} was not judged: it has no caption, and the model reads captions, not images"
        )),
        many => Some(format!(
            "photos {} were not judged: they have no caption, and the model reads captions, not images",
            many.join(", ")
        )),
    }
}

fn pricing_insight(plan: &FocusGroupPlan, panel: &Panel<'_>) -> Option<PricingInsight> {
    let mut per_persona: BTreeMap<Uuid, Vec<f64>> = BTreeMap::new();
    for (persona, _, unit) in &panel.units {
        let entry = per_persona.entry(*persona).or_default();
        entry.extend(unit.views.iter().filter_map(|v| v.willingness_to_pay));
    }
    let personas = per_persona.len();
    let mut bids: Vec<f64> = per_persona
        .values()
        .filter(|b| !b.is_empty())
        .map(|b| b.iter().sum::<f64>() / b.len() as f64)
        .collect();
    if bids.is_empty() {
        return None;
    }
    bids.sort_by(f64::total_cmp);
    let at = |q: f64| bids[((bids.len() - 1) as f64 * q).round() as usize].round();
    let price = plan.property.price;
    Some(PricingInsight {
        list_price: price,
        currency: plan.property.currency.clone(),
        bidders: bids.len() as u32,
        personas: personas as u32,
        willingness_to_pay_percentiles: [at(0.1), at(0.25), at(0.5), at(0.75), at(0.9)],
        share_at_list_price: round2(
            bids.iter().filter(|b| **b >= price).count() as f64 / personas as f64,
        ),
        suggested_price: at(0.5),
    })
}

fn modification_recommendation(e: &ModificationEffect, panel: usize) -> Recommendation {
    let [low, high] = e.effect_ci95;
    let (title, agreement) = if low > 0.0 {
        (
            format!("Make the change: {}", e.modification),
            e.positive_share,
        )
    } else if high < 0.0 {
        (format!("Avoid: {}", e.modification), 1.0 - e.positive_share)
    } else {
        (format!("Inconclusive: {}", e.modification), 0.5)
    };
    Recommendation {
        kind: "modification".to_owned(),
        title,
        detail: format!(
            "Moves purchase intent from {:.2} to {:.2} ({:+.2} points, 95% CI {:+.2} to {:+.2}); raises it for {} of the panel.",
            e.intent_before,
            e.intent_after,
            e.mean_effect,
            low,
            high,
            percent(e.positive_share)
        ),
        effect: Some(e.mean_effect),
        confidence: round2(agreement * sample_factor(panel)),
    }
}

fn segment_recommendation(insights: &[SegmentInsight]) -> Option<Recommendation> {
    let mut ranked: Vec<&SegmentInsight> = insights.iter().collect();
    ranked.sort_by(|a, b| b.mean_intent.total_cmp(&a.mean_intent));
    let best = ranked.first()?;
    let runner_up = ranked.get(1);
    // A lead under a tenth of a Likert point is no lead at all.
    let tied = runner_up.is_some_and(|second| best.mean_intent - second.mean_intent < 0.1);
    let as_estimate = |s: &SegmentInsight| troupe_shared::domain::Estimate {
        mean: s.mean_intent,
        ci95: s.intent_ci95,
    };
    let clear = separation(
        &as_estimate(best),
        runner_up.map(|s| as_estimate(s)).as_ref(),
        best.personas as usize,
    );
    let name = |s: &SegmentInsight| s.segment.replace('_', " ");
    let title = match runner_up {
        Some(second) if tied => format!(
            "No segment stands out: {} and {} are level",
            name(best),
            name(second)
        ),
        Some(second) if clear < 1.0 => format!(
            "Inconclusive: {} lead {} on intent",
            name(best),
            name(second)
        ),
        _ => format!("Market to {}", name(best)),
    };
    let wtp = best
        .mean_willingness_to_pay
        .map(|w| format!(" Would pay {} on average.", money(w)))
        .unwrap_or_default();
    Some(Recommendation {
        kind: "target_segment".to_owned(),
        title,
        detail: format!(
            "Highest purchase intent: {:.2}/5 (95% CI {:.2}–{:.2}) across {} personas.{wtp}{}",
            best.mean_intent,
            best.intent_ci95[0],
            best.intent_ci95[1],
            best.personas,
            runner_up
                .map(|s| format!(" Next: {} at {:.2}/5.", name(s), s.mean_intent))
                .unwrap_or_default()
        ),
        effect: runner_up.map(|s| round2(best.mean_intent - s.mean_intent)),
        confidence: round2(clear * sample_factor(best.personas as usize)),
    })
}

fn photo_recommendation(photos: &[PhotoInsight], panel: usize) -> Option<Recommendation> {
    let best = photos.first()?;
    let runner_up = photos.get(1);
    let clear = separation(&best.appeal, runner_up.map(|p| &p.appeal), panel);
    let title = match runner_up {
        Some(second) if clear < 1.0 => format!(
            "Inconclusive: photo {} and photo {} are {} on appeal",
            best.photo,
            second.photo,
            level_or_close(second.rank == best.rank)
        ),
        _ => format!("Lead with photo {}: {}", best.photo, best.description),
    };
    Some(Recommendation {
        kind: "photo".to_owned(),
        title,
        detail: format!(
            "Photo {} ({}): appeal {:.2}/5 (95% CI {:.2}–{:.2}); rated best by {} of the panel. Order: {}.",
            best.photo,
            best.description,
            best.appeal.mean,
            best.appeal.ci95[0],
            best.appeal.ci95[1],
            percent(best.support),
            photos
                .iter()
                .map(|p| p.photo.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        effect: runner_up.map(|s| round2(best.appeal.mean - s.appeal.mean)),
        confidence: round2(clear * sample_factor(panel)),
    })
}

fn pricing_recommendation(p: &PricingInsight) -> Recommendation {
    let gap = p.suggested_price / p.list_price - 1.0;
    let title = if gap < -0.05 {
        "Price is above what interested buyers would pay"
    } else if gap > 0.05 {
        "Price leaves room: interested buyers would pay more"
    } else {
        "Price is in line with interested buyers"
    };
    Recommendation {
        kind: "pricing".to_owned(),
        title: title.to_owned(),
        detail: format!(
            "Median willingness to pay {} {} ({:+.1}% against the list price of {}); {} of the panel would pay the list price; middle half between {} and {}.",
            p.currency,
            money(p.suggested_price),
            gap * 100.0,
            money(p.list_price),
            percent(p.share_at_list_price),
            money(p.willingness_to_pay_percentiles[1]),
            money(p.willingness_to_pay_percentiles[3]),
        ),
        effect: Some(round2(gap)),
        confidence: round2(
            f64::from(p.bidders) / f64::from(p.personas.max(1)) * sample_factor(p.bidders as usize),
        ),
    }
}

fn summary(
    plan: &FocusGroupPlan,
    overall: &SegmentInsight,
    segments: usize,
    recommendations: &[Recommendation],
) -> String {
    let mut text = format!(
        "{} personas in {} segment(s) answered {} question(s){} about \"{}\" over {} iteration(s). \
         Mean purchase intent {:.2}/5 (95% CI {:.2}–{:.2}; distribution {}).",
        overall.personas,
        segments,
        plan.questions.len(),
        match plan.discussion_rounds {
            0 => String::new(),
            n => format!(" and discussed {n} round(s)"),
        },
        plan.property.title,
        plan.settings.iterations,
        overall.mean_intent,
        overall.intent_ci95[0],
        overall.intent_ci95[1],
        overall
            .intent_distribution
            .iter()
            .map(|p| percent(*p))
            .collect::<Vec<_>>()
            .join("/"),
    );
    if let Some(top) = recommendations
        .iter()
        .find(|r| !r.title.starts_with("Inconclusive"))
    {
        text.push_str(&format!(" Strongest finding: {}.", top.title));
    }
    text
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use troupe_shared::domain::{
        Panel as PlanPanel, Photo, PhotoAppeal, PropertyDetails, RunSettings,
    };

    use super::*;

    fn response(
        persona: u128,
        segment: &str,
        iteration: u32,
        round: u32,
        intent: u8,
    ) -> AgentResponse {
        AgentResponse {
            persona_id: Uuid::from_u128(persona),
            persona_name: format!("P{persona}"),
            segment: segment.to_owned(),
            iteration,
            round,
            step: String::new(),
            prompt: String::new(),
            answer: "…".to_owned(),
            judgement: Judgement::Listing(ListingJudgement {
                purchase_intent: intent,
                intent_distribution: ssr::distribution(ssr::Scale::Purchase, "", intent),
                purchase_probability: f64::from(intent) / 5.0,
                willingness_to_pay: (intent >= 3).then_some(9e6 + persona as f64 * 1e5),
                likes: vec!["Pool.".to_owned()],
                dislikes: vec![],
                photo_appeal: if round == 0 {
                    vec![
                        PhotoAppeal {
                            photo: 1,
                            appeal: 2,
                        },
                        PhotoAppeal {
                            photo: 2,
                            appeal: 5,
                        },
                    ]
                } else {
                    vec![]
                },
                typed_answer: None,
            }),
        }
    }

    fn plan() -> FocusGroupPlan {
        FocusGroupPlan {
            property_id: None,
            property: PropertyDetails {
                title: "Villa".into(),
                price: 10e6,
                currency: "USD".into(),
                photos: vec![
                    Photo {
                        url: "u1".into(),
                        description: "Street".into(),
                    },
                    Photo {
                        url: "u2".into(),
                        description: "Pool".into(),
                    },
                ]
                .into(),
                ..Default::default()
            },
            panel: PlanPanel::default(),
            questions: vec!["Buy?".into()],
            modifications: vec!["Add a spa".into()],
            discussion_rounds: 0,
            settings: RunSettings {
                iterations: 2,
                temperature: 0.7,
                seed: 1,
                token_budget: 1_000_000,
            },
        }
    }

    fn run(responses: &[AgentResponse]) -> SimulationResults {
        aggregate(&plan(), responses, None, &mut StdRng::seed_from_u64(1))
    }

    fn segments(results: &SimulationResults) -> Vec<&SegmentInsight> {
        results
            .detailed_insights
            .iter()
            .filter_map(|i| match i {
                Insight::Segment(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn segments_photos_modifications_and_pricing_from_known_answers() {
        let mut responses = Vec::new();
        for persona in 0..6 {
            for iteration in 0..2 {
                let tech = 4 + (persona % 2) as u8;
                responses.push(response(persona, "tech", iteration, 0, tech));
                // The spa lifts every tech persona by one point (capped at 5).
                responses.push(response(persona, "tech", iteration, 1, (tech + 1).min(5)));
                responses.push(response(100 + persona, "finance", iteration, 0, 2));
                responses.push(response(100 + persona, "finance", iteration, 1, 1));
            }
        }
        let results = run(&responses);
        let found = segments(&results);
        let [finance, tech] = [found[0], found[1]];
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
        assert!(
            finance.distribution_stddev > 0.5,
            "the distribution keeps a spread: {finance:?}"
        );
        assert_eq!(tech.top_likes[0].text, "pool");
        assert_eq!(tech.top_likes[0].count, 12);
        assert_eq!(
            tech.modification_effects[0].mean_effect, 0.5,
            "+1 for half, +0 (capped) for the rest"
        );
        assert_eq!(finance.modification_effects[0].effect_ci95, [-1.0, -1.0]);

        let photo = results.detailed_insights.iter().find_map(|i| match i {
            Insight::Photo(p) if p.rank == 1 => Some(p),
            _ => None,
        });
        assert_eq!(
            photo.map(|p| (p.photo, p.appeal.mean, p.support)),
            Some((2, 5.0, 1.0))
        );
        let pricing = results.detailed_insights.iter().find_map(|i| match i {
            Insight::Pricing(p) => Some(p),
            _ => None,
        });
        let pricing = pricing.unwrap();
        assert_eq!(
            (pricing.bidders, pricing.personas),
            (6, 12),
            "only the tech personas bid"
        );
        assert_eq!(pricing.share_at_list_price, 0.0);
        assert_eq!(pricing.suggested_price, 9.3e6);

        let target = results
            .recommendations
            .iter()
            .find(|r| r.kind == "target_segment")
            .unwrap();
        assert_eq!(target.title, "Market to tech");
        // Up for tech, down for finance: overall the interval spans zero.
        let spa = results
            .recommendations
            .iter()
            .find(|r| r.kind == "modification")
            .unwrap();
        assert!(spa.title.starts_with("Inconclusive"), "{spa:?}");
    }

    #[test]
    fn level_segments_get_no_winner() {
        let responses: Vec<_> = (0..4)
            .flat_map(|p| {
                [
                    response(p, "tech", 0, 0, 4),
                    response(10 + p, "finance", 0, 0, 4),
                ]
            })
            .collect();
        let results = run(&responses);
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
            .map(|p| response(p, "tech", 0, 0, 1 + (p % 5) as u8))
            .collect();
        assert_eq!(run(&responses), run(&responses));
    }
}
