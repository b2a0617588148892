//! Typed questions: each answer aggregated in its own shape, per segment and for the whole
//! panel — shares per option, mean ranks in Borda order, numeric percentiles, free-text themes —
//! each with a 95% bootstrap interval over personas, and the order effect of the options.
//! A choice is recommended only when its interval clears the runner-up's.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand::rngs::StdRng;
use troupe_shared::domain::{
    AgentResponse, AnswerType, Estimate, FocusGroupPlan, Judgement, OptionRank, OptionShare,
    OrderEffect, QuestionInsight, QuestionSegment, Recommendation, TypedAnswer, TypedQuestion,
};
use uuid::Uuid;

use super::{Samples, level_or_close, percent, round2, sample_factor, separation, themes};
use crate::{engine::order::shown_order, sentence_model::SentenceModel};

/// Free-text answers' sentence embeddings, made once for every segment's themes, and how the
/// themes were grouped.
struct Meanings {
    vectors: Option<HashMap<String, Vec<f32>>>,
    grouped_by: String,
}

impl Meanings {
    /// Embeds every free-text answer of the run when a model is given; a model that fails
    /// leaves the themes to words, and says so.
    fn of(responses: &[AgentResponse], model: Option<&SentenceModel>) -> Meanings {
        let words = "shared words (no embedding model installed)";
        let Some(model) = model else {
            return Meanings {
                vectors: None,
                grouped_by: words.to_owned(),
            };
        };
        let texts: Vec<String> = responses
            .iter()
            .filter_map(|r| match &r.judgement {
                Judgement::Listing(j) => match &j.typed_answer {
                    Some(TypedAnswer::FreeText(t)) => Some(t.text.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        match model.embed(&texts) {
            Ok(vectors) => Meanings {
                vectors: Some(texts.into_iter().zip(vectors).collect()),
                grouped_by: format!("meaning ({})", model.name()),
            },
            Err(e) => {
                tracing::warn!(error = %troupe_shared::causes::Causes(&e), "free-text themes fall back to words");
                Meanings {
                    vectors: None,
                    grouped_by: format!("shared words ({} failed)", model.name()),
                }
            }
        }
    }
}

/// One persona's answer in one iteration.
#[derive(Clone, Copy)]
struct Answer<'a> {
    persona: Uuid,
    iteration: u32,
    segment: &'a str,
    answer: &'a TypedAnswer,
}

pub fn insights(
    plan: &FocusGroupPlan,
    responses: &[AgentResponse],
    model: Option<&SentenceModel>,
    rng: &mut StdRng,
) -> (Vec<QuestionInsight>, Vec<(u32, Recommendation)>) {
    let has_free_text = plan
        .questions
        .iter()
        .any(|q| q.typed().is_some_and(|t| t.answer == AnswerType::FreeText));
    let meanings = Meanings::of(responses, model.filter(|_| has_free_text));
    // Everyone who answered any step, by segment: who was asked.
    let mut asked: BTreeMap<&str, BTreeSet<Uuid>> = BTreeMap::new();
    for r in responses {
        asked.entry(&r.segment).or_default().insert(r.persona_id);
    }
    let everyone = asked.values().flatten().collect::<BTreeSet<_>>().len();
    let mut insights = Vec::new();
    let mut recommendations = Vec::new();
    for (index, question) in plan.questions.iter().enumerate() {
        let Some(typed) = question.typed() else {
            continue;
        };
        let answers: Vec<Answer<'_>> = responses
            .iter()
            .filter(|r| r.round as usize == index)
            .filter_map(|r| match &r.judgement {
                Judgement::Listing(j) => j.typed_answer.as_ref().map(|answer| Answer {
                    persona: r.persona_id,
                    iteration: r.iteration,
                    segment: &r.segment,
                    answer,
                }),
                _ => None,
            })
            .collect();
        let mut segments = vec![segment("all", typed, &answers, everyone, &meanings, rng)];
        for (name, members) in &asked {
            let theirs: Vec<Answer<'_>> = answers
                .iter()
                .filter(|a| a.segment == *name)
                .copied()
                .collect();
            segments.push(segment(name, typed, &theirs, members.len(), &meanings, rng));
        }
        let insight = QuestionInsight {
            question: index as u32 + 1,
            text: typed.text.clone(),
            answer: typed.answer,
            unit: typed.unit.clone(),
            order_effect: order_effect(plan.settings.seed, index, typed, &answers, rng),
            segments,
        };
        recommendations.extend(recommendation(&insight).map(|r| (insight.question, r)));
        insights.push(insight);
    }
    (insights, recommendations)
}

fn segment(
    name: &str,
    question: &TypedQuestion,
    answers: &[Answer<'_>],
    asked: usize,
    meanings: &Meanings,
    rng: &mut StdRng,
) -> QuestionSegment {
    let respondents = answers
        .iter()
        .map(|a| a.persona)
        .collect::<BTreeSet<_>>()
        .len();
    let mut out = QuestionSegment {
        segment: name.to_owned(),
        respondents: respondents as u32,
        unanswered: asked.saturating_sub(respondents) as u32,
        mean: None,
        shares: Vec::new(),
        ranks: Vec::new(),
        percentiles: None,
        themes: Vec::new(),
        themes_grouped_by: None,
    };
    if answers.is_empty() {
        return out;
    }
    // The share of answers meeting `test`, with its interval.
    let mut share_of = |test: &dyn Fn(&TypedAnswer) -> bool| {
        let mut samples = Samples::default();
        for a in answers {
            samples.add(a.persona, f64::from(u8::from(test(a.answer))));
        }
        samples.estimate(rng)
    };
    let option_share = |option: &str, e: Estimate| OptionShare {
        option: option.to_owned(),
        share: e.mean,
        ci95: e.ci95,
    };
    match question.answer {
        AnswerType::Likert => {
            out.shares = (1..=5u8)
                .map(|point| {
                    let e = share_of(&|a| matches!(a, TypedAnswer::Likert(p) if p.point == point));
                    option_share(&point.to_string(), e)
                })
                .collect();
            out.mean = Some(
                values(answers, |a| match a.answer {
                    TypedAnswer::Likert(p) => Some(f64::from(p.point)),
                    _ => None,
                })
                .estimate(rng),
            );
        }
        AnswerType::YesNo => {
            for (label, yes) in [("yes", true), ("no", false)] {
                let e = share_of(&|a| matches!(a, TypedAnswer::YesNo(y) if y.yes == yes));
                out.shares.push(option_share(label, e));
            }
            largest_first(&mut out.shares);
        }
        AnswerType::SingleChoice | AnswerType::MultiChoice => {
            for option in question.options() {
                let e = share_of(&|a| match a {
                    TypedAnswer::SingleChoice(c) => c.option == *option,
                    TypedAnswer::MultiChoice(c) => c.options.contains(option),
                    _ => false,
                });
                out.shares.push(option_share(option, e));
            }
            largest_first(&mut out.shares);
        }
        AnswerType::Ranking => {
            let n = question.options().len() as f64;
            out.ranks = question
                .options()
                .iter()
                .map(|option| {
                    let e = values(answers, |a| match a.answer {
                        TypedAnswer::Ranking(r) => r
                            .order
                            .iter()
                            .position(|o| o == option)
                            .map(|p| p as f64 + 1.0),
                        _ => None,
                    })
                    .estimate(rng);
                    OptionRank {
                        option: option.clone(),
                        mean_rank: e.mean,
                        ci95: e.ci95,
                        borda: round2(n - e.mean),
                    }
                })
                .collect();
            out.ranks.sort_by(|a, b| {
                a.mean_rank
                    .total_cmp(&b.mean_rank)
                    .then_with(|| a.option.cmp(&b.option))
            });
        }
        AnswerType::Numeric => {
            let samples = values(answers, |a| match a.answer {
                TypedAnswer::Numeric(n) => Some(n.value),
                _ => None,
            });
            out.percentiles = Some(percentiles(&samples));
            out.mean = Some(samples.estimate(rng));
        }
        AnswerType::FreeText => {
            let texts: Vec<(Uuid, &str)> = answers
                .iter()
                .filter_map(|a| match a.answer {
                    TypedAnswer::FreeText(t) => Some((a.persona, t.text.as_str())),
                    _ => None,
                })
                .collect();
            out.themes = themes::themes(&texts, meanings.vectors.as_ref(), rng);
            out.themes_grouped_by = Some(meanings.grouped_by.clone());
        }
    }
    out
}

/// One value per answer that has one, grouped by persona.
fn values(answers: &[Answer<'_>], value: impl Fn(&Answer<'_>) -> Option<f64>) -> Samples {
    let mut samples = Samples::default();
    for a in answers {
        if let Some(v) = value(a) {
            samples.add(a.persona, v);
        }
    }
    samples
}

fn largest_first(shares: &mut [OptionShare]) {
    // Stable: equal shares keep the question's order.
    shares.sort_by(|a, b| b.share.total_cmp(&a.share));
}

/// Percentiles of the personas' own means (each persona counts once).
fn percentiles(samples: &Samples) -> [f64; 5] {
    let mut means = samples.persona_means();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| round2(means[((means.len() - 1) as f64 * q).round() as usize]);
    [at(0.1), at(0.25), at(0.5), at(0.75), at(0.9)]
}

/// How the option each persona saw first fared, from the seeded orders the run showed.
fn order_effect(
    seed: u64,
    index: usize,
    question: &TypedQuestion,
    answers: &[Answer<'_>],
    rng: &mut StdRng,
) -> Option<OrderEffect> {
    let options = question.options();
    let first_shown = |a: &Answer<'_>| {
        let order = shown_order(seed, a.persona, a.iteration, index, options.len());
        options[order[0]].as_str()
    };
    let (samples, without_bias) = match question.answer {
        AnswerType::SingleChoice => (
            values(answers, |a| match a.answer {
                TypedAnswer::SingleChoice(c) => {
                    Some(f64::from(u8::from(c.option == first_shown(a))))
                }
                _ => None,
            }),
            1.0 / options.len() as f64,
        ),
        AnswerType::Ranking => (
            values(answers, |a| match a.answer {
                TypedAnswer::Ranking(r) => r
                    .order
                    .iter()
                    .position(|o| o == first_shown(a))
                    .map(|p| p as f64 + 1.0),
                _ => None,
            }),
            (options.len() as f64 + 1.0) / 2.0,
        ),
        _ => return None,
    };
    (samples.personas() > 0).then(|| OrderEffect {
        first_shown: samples.estimate(rng),
        without_bias: round2(without_bias),
    })
}

/// What a broker can act on from a choice, a yes/no or a ranking: the leader, when its
/// interval clears the runner-up's (or, for yes/no, one half); otherwise an inconclusive note.
fn recommendation(insight: &QuestionInsight) -> Option<Recommendation> {
    let all = insight.segments.first()?;
    let panel = all.respondents as usize;
    if panel == 0 {
        return None;
    }
    let asked = short(&insight.text);
    let estimate = |mean: f64, ci95: [f64; 2]| Estimate { mean, ci95 };
    let (title, detail, effect, clear) = match insight.answer {
        AnswerType::SingleChoice | AnswerType::YesNo => {
            let best = all.shares.first()?;
            let second = all.shares.get(1);
            let clear = match insight.answer {
                // Yes against no is one share against a half.
                AnswerType::YesNo => {
                    if best.ci95[0] > 0.5 && panel >= 2 {
                        1.0
                    } else {
                        0.5
                    }
                }
                _ => separation(
                    &estimate(best.share, best.ci95),
                    second.map(|s| estimate(s.share, s.ci95)).as_ref(),
                    panel,
                ),
            };
            let title = match (clear >= 1.0, second) {
                (true, _) if insight.answer == AnswerType::YesNo => {
                    format!("Most answer {} to \"{asked}\"", best.option)
                }
                (false, _) if insight.answer == AnswerType::YesNo => format!(
                    "Inconclusive: no clear majority on \"{asked}\" ({} say {})",
                    percent(best.share),
                    best.option
                ),
                (true, _) => format!("Most choose \"{}\" on \"{asked}\"", best.option),
                (false, Some(s)) => format!(
                    "Inconclusive: \"{}\" and \"{}\" are {} on \"{asked}\"",
                    best.option,
                    s.option,
                    level_or_close(s.share == best.share)
                ),
                (false, None) => format!("Inconclusive: \"{asked}\""),
            };
            let detail = all
                .shares
                .iter()
                .map(|s| {
                    format!(
                        "{} {} (95% CI {}–{})",
                        s.option,
                        percent(s.share),
                        percent(s.ci95[0]),
                        percent(s.ci95[1])
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let lead = second.map(|s| round2(best.share - s.share));
            (
                title,
                format!("{detail}; {panel} personas answered."),
                lead,
                clear,
            )
        }
        AnswerType::Ranking => {
            let best = all.ranks.first()?;
            let second = all.ranks.get(1);
            // Lower ranks are better: the leader is clear when its interval ends below the
            // runner-up's.
            let clear = match second {
                _ if panel < 2 => 0.5,
                Some(s) if best.ci95[1] >= s.ci95[0] => 0.5,
                _ => 1.0,
            };
            let title = match (clear >= 1.0, second) {
                (true, _) => format!("Ranked first: \"{}\" on \"{asked}\"", best.option),
                (false, Some(s)) => format!(
                    "Inconclusive: \"{}\" and \"{}\" rank alike on \"{asked}\"",
                    best.option, s.option
                ),
                (false, None) => format!("Inconclusive: \"{asked}\""),
            };
            let detail = all
                .ranks
                .iter()
                .map(|r| {
                    format!(
                        "{} mean rank {:.2} (95% CI {:.2}–{:.2})",
                        r.option, r.mean_rank, r.ci95[0], r.ci95[1]
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let lead = second.map(|s| round2(s.mean_rank - best.mean_rank));
            (
                title,
                format!("{detail}; {panel} personas ranked."),
                lead,
                clear,
            )
        }
        _ => return None,
    };
    Some(Recommendation {
        kind: "question".to_owned(),
        title,
        detail,
        effect,
        confidence: round2(clear * sample_factor(panel)),
    })
}

/// A question cut to fit a title.
fn short(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
