//! What a focus group's results must never say, checked over random panels: a ranking follows
//! the measure it ranks, ties are ties, a leader is named only when its interval clears the
//! runner-up's (else the finding says Inconclusive), shares add up, the share at the list price
//! agrees with the bids it came from, and confidence does not rise as the panel shrinks.

use proptest::prelude::*;
use rand::{SeedableRng, rngs::StdRng};
use troupe_shared::domain::{
    AgentResponse, AnswerType, ChoiceAnswer, FocusGroupPlan, Insight, Judgement, ListingJudgement,
    Panel, Photo, PhotoAppeal, PropertyDetails, Question, RankingAnswer, Recommendation,
    RunSettings, SimulationResults, TypedAnswer, TypedQuestion,
};
use uuid::Uuid;

use super::focus_group;
use crate::engine::ssr;

const OPTIONS: [&str; 3] = ["Views", "Privacy", "Schools"];
const PRICE: f64 = 10e6;

/// One persona's answers in one iteration: intent per view, photo ratings, a bid, a choice, a
/// ranking (a permutation index) and the intent after each modification.
#[derive(Debug, Clone)]
struct Unit {
    intents: Vec<u8>,
    photos: Vec<u8>,
    bid: Option<f64>,
    choice: usize,
    ranking: usize,
    after: Vec<u8>,
}

fn unit(photos: usize, modifications: usize) -> impl Strategy<Value = Unit> {
    (
        prop::collection::vec(1u8..=5, 2),
        prop::collection::vec(1u8..=5, photos),
        prop::option::of(6e6..14e6f64),
        0usize..3,
        0usize..6,
        prop::collection::vec(1u8..=5, modifications),
    )
        .prop_map(|(intents, photos, bid, choice, ranking, after)| Unit {
            intents,
            photos,
            bid,
            choice,
            ranking,
            after,
        })
}

/// Personas (by segment) × iterations of units.
fn panels() -> impl Strategy<Value = (usize, usize, Vec<(usize, Vec<Unit>)>)> {
    (2usize..5, 0usize..3).prop_flat_map(|(photos, modifications)| {
        let persona = (
            0usize..3,
            prop::collection::vec(unit(photos, modifications), 1..3),
        );
        (
            Just(photos),
            Just(modifications),
            prop::collection::vec(persona, 1..16),
        )
    })
}

fn plan(photos: usize, modifications: usize) -> FocusGroupPlan {
    let typed = |answer| {
        Question::Typed(TypedQuestion {
            text: "Which?".into(),
            answer,
            options: Some(OPTIONS.map(String::from).to_vec()),
            unit: None,
        })
    };
    FocusGroupPlan {
        property_id: None,
        property: PropertyDetails {
            title: "Villa".into(),
            price: PRICE,
            currency: "USD".into(),
            photos: (1..=photos)
                .map(|i| Photo {
                    url: format!("u{i}"),
                    description: format!("Photo {i}"),
                })
                .collect::<Vec<_>>()
                .into(),
            ..Default::default()
        },
        panel: Panel::default(),
        questions: vec![typed(AnswerType::SingleChoice), typed(AnswerType::Ranking)],
        modifications: (0..modifications).map(|m| format!("Change {m}")).collect(),
        discussion_rounds: 0,
        settings: RunSettings {
            iterations: 2,
            temperature: 0.7,
            seed: 5,
            token_budget: 1_000_000,
        },
    }
}

const PERMUTATIONS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

fn responses(personas: &[(usize, Vec<Unit>)]) -> Vec<AgentResponse> {
    let mut out = Vec::new();
    for (p, (segment, units)) in personas.iter().enumerate() {
        for (iteration, u) in units.iter().enumerate() {
            let respond =
                |round: u32, intent: u8, typed: Option<TypedAnswer>, rated: bool| AgentResponse {
                    persona_id: Uuid::from_u128(p as u128 + 1),
                    persona_name: format!("P{p}"),
                    segment: format!("segment{segment}"),
                    iteration: iteration as u32,
                    round,
                    step: String::new(),
                    prompt: String::new(),
                    answer: String::new(),
                    judgement: Judgement::Listing(ListingJudgement {
                        purchase_intent: intent,
                        intent_distribution: ssr::distribution(ssr::Scale::Purchase, "", intent),
                        purchase_probability: f64::from(intent) / 5.0,
                        willingness_to_pay: u.bid,
                        likes: Vec::new(),
                        dislikes: Vec::new(),
                        photo_appeal: if rated {
                            u.photos
                                .iter()
                                .enumerate()
                                .map(|(i, appeal)| PhotoAppeal {
                                    photo: i as u32 + 1,
                                    appeal: *appeal,
                                })
                                .collect()
                        } else {
                            Vec::new()
                        },
                        typed_answer: typed,
                    }),
                };
            let choice = TypedAnswer::SingleChoice(ChoiceAnswer {
                option: OPTIONS[u.choice].into(),
            });
            let ranking = TypedAnswer::Ranking(RankingAnswer {
                order: PERMUTATIONS[u.ranking]
                    .iter()
                    .map(|&i| OPTIONS[i].to_owned())
                    .collect(),
            });
            out.push(respond(0, u.intents[0], Some(choice), true));
            out.push(respond(1, u.intents[1], Some(ranking), false));
            for (m, intent) in u.after.iter().enumerate() {
                out.push(respond(2 + m as u32, *intent, None, false));
            }
        }
    }
    out
}

fn aggregate(
    photos: usize,
    modifications: usize,
    personas: &[(usize, Vec<Unit>)],
) -> SimulationResults {
    let mut rng = StdRng::seed_from_u64(9);
    focus_group::aggregate(
        &plan(photos, modifications),
        &responses(personas),
        None,
        &mut rng,
    )
}

fn recommendations<'a>(results: &'a SimulationResults, kind: &str) -> Vec<&'a Recommendation> {
    results
        .recommendations
        .iter()
        .filter(|r| r.kind == kind)
        .collect()
}

fn check(
    results: &SimulationResults,
    personas: &[(usize, Vec<Unit>)],
) -> Result<(), TestCaseError> {
    let insights = &results.detailed_insights;
    // Photos: ranked by appeal; ties share a rank and are never a lead.
    let photos: Vec<_> = insights
        .iter()
        .filter_map(|i| match i {
            Insight::Photo(p) => Some(p),
            _ => None,
        })
        .collect();
    for pair in photos.windows(2) {
        prop_assert!(pair[0].appeal.mean >= pair[1].appeal.mean);
        prop_assert_eq!(
            pair[0].appeal.mean == pair[1].appeal.mean,
            pair[0].rank == pair[1].rank
        );
    }
    if let Some(photo) = recommendations(results, "photo").first() {
        if photo.title.starts_with("Lead with") {
            let leader = format!("Lead with photo {}:", photos[0].photo);
            prop_assert!(photo.title.starts_with(&leader), "{}", photo.title);
            if let Some(second) = photos.get(1) {
                prop_assert!(
                    photos[0].appeal.ci95[0] > second.appeal.ci95[1],
                    "{photo:?}"
                );
            }
        } else {
            prop_assert!(photo.title.starts_with("Inconclusive"), "{}", photo.title);
        }
    }
    // Modifications: a direction only when the interval excludes zero.
    for m in insights.iter().filter_map(|i| match i {
        Insight::Modification(m) => Some(m),
        _ => None,
    }) {
        let said = recommendations(results, "modification")
            .into_iter()
            .find(|r| r.title.ends_with(&m.modification))
            .expect("a recommendation per modification");
        let expected = if m.effect_ci95[0] > 0.0 {
            "Make the change"
        } else if m.effect_ci95[1] < 0.0 {
            "Avoid"
        } else {
            "Inconclusive"
        };
        prop_assert!(said.title.starts_with(expected), "{} for {m:?}", said.title);
    }
    // Segments: "Market to" only for the leader, clear of the runner-up.
    if let Some(target) = recommendations(results, "target_segment").first()
        && let Some(named) = target.title.strip_prefix("Market to ")
    {
        let mut segments: Vec<_> = insights
            .iter()
            .filter_map(|i| match i {
                Insight::Segment(s) => Some(s),
                _ => None,
            })
            .collect();
        segments.sort_by(|a, b| b.mean_intent.total_cmp(&a.mean_intent));
        prop_assert_eq!(named, segments[0].segment.replace('_', " "));
        if let Some(second) = segments.get(1) {
            prop_assert!(segments[0].intent_ci95[0] > second.intent_ci95[1]);
        }
    }
    // Typed questions: shares of one choice sum to one; mean ranks to 1 + 2 + 3.
    for q in insights.iter().filter_map(|i| match i {
        Insight::Question(q) => Some(q),
        _ => None,
    }) {
        for s in &q.segments {
            match q.answer {
                AnswerType::SingleChoice => {
                    let total: f64 = s.shares.iter().map(|o| o.share).sum();
                    prop_assert!((total - 1.0).abs() <= 0.02, "{s:?}");
                    for pair in s.shares.windows(2) {
                        prop_assert!(pair[0].share >= pair[1].share);
                    }
                }
                AnswerType::Ranking => {
                    let total: f64 = s.ranks.iter().map(|r| r.mean_rank).sum();
                    prop_assert!((total - 6.0).abs() <= 0.02, "{s:?}");
                }
                _ => {}
            }
        }
        let all = &q.segments[0];
        for r in recommendations(results, "question") {
            if r.title.starts_with("Most choose") && q.answer == AnswerType::SingleChoice {
                let leader = format!("\"{}\"", all.shares[0].option);
                prop_assert!(r.title.contains(&leader), "{}", r.title);
                prop_assert!(all.shares[0].ci95[0] > all.shares[1].ci95[1], "{r:?}");
            }
            if r.title.starts_with("Ranked first") && q.answer == AnswerType::Ranking {
                let leader = format!("\"{}\"", all.ranks[0].option);
                prop_assert!(r.title.contains(&leader), "{}", r.title);
                prop_assert!(all.ranks[0].ci95[1] < all.ranks[1].ci95[0], "{r:?}");
            }
        }
    }
    // Pricing: the share at the list price is the bids at or above it, over the whole panel.
    if let Some(p) = insights.iter().find_map(|i| match i {
        Insight::Pricing(p) => Some(p),
        _ => None,
    }) {
        let pct = p.willingness_to_pay_percentiles;
        prop_assert!(pct.windows(2).all(|w| w[0] <= w[1]), "{pct:?}");
        let at_list = personas
            .iter()
            .filter(|(_, units)| {
                let bids: Vec<f64> = units.iter().filter_map(|u| u.bid).collect();
                !bids.is_empty() && bids.iter().sum::<f64>() / bids.len() as f64 >= PRICE
            })
            .count();
        let expected = (at_list as f64 / personas.len() as f64 * 100.0).round() / 100.0;
        prop_assert_eq!(p.share_at_list_price, expected, "{:?}", p);
    }
    for r in &results.recommendations {
        prop_assert!((0.0..=1.0).contains(&r.confidence), "{r:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn findings_follow_their_numbers((photos, modifications, personas) in panels()) {
        check(&aggregate(photos, modifications, &personas), &personas)?;
    }

    /// The same answers from fewer personas never earn more confidence.
    #[test]
    fn confidence_does_not_rise_as_the_panel_shrinks(
        (photos, modifications, personas) in panels(),
        keep in 1usize..16,
    ) {
        let copies: Vec<(usize, Vec<Unit>)> =
            personas.iter().cloned().cycle().take(personas.len() * 3).collect();
        let fewer = &copies[..keep.min(copies.len())];
        let agree = |panel: &[(usize, Vec<Unit>)]| {
            // One answer repeated by everyone: the intervals have no width, so only the panel's
            // size moves the confidence.
            let same: Vec<(usize, Vec<Unit>)> =
                panel.iter().map(|(_, _)| (0, vec![personas[0].1[0].clone()])).collect();
            aggregate(photos, modifications, &same).confidence_scores["overall"]
        };
        prop_assert!(agree(fewer) <= agree(&copies));
    }
}
