//! The focus-group world. A moderator presents the listing and asks each question to the whole
//! panel at once; in discussion rounds each persona hears a digest of the others and may change
//! its mind; then each modification is put to the panel on its own, against the intent the
//! persona held just before.

use troupe_shared::domain::{FocusGroupPlan, Judgement, Persona};

use super::{
    agent::{Agent, RunContext, StepRequest, Transcript, panel, step},
    prompt::{DISCUSSION_PROMPT, Digest, ListingAsk, Stimulus},
};
use crate::engine::responder::StepError;

const QUOTES: usize = 3;
const DIGEST_ITEMS: usize = 4;

pub async fn run(
    plan: &FocusGroupPlan,
    personas: &[Persona],
    ctx: &RunContext<'_>,
) -> Result<Transcript, StepError> {
    let mut agents = panel(personas, plan.settings.iterations, plan.settings.seed);
    let mut transcript = Transcript::default();
    let mut round = 0;
    for (q, question) in plan.questions.iter().enumerate() {
        let steps: Vec<_> = agents
            .iter_mut()
            .map(|agent| {
                let request = StepRequest {
                    round,
                    step: format!("question {}", q + 1),
                    prompt: question.clone(),
                    stimulus: Stimulus::Listing {
                        listing: &plan.property,
                        ask: ListingAsk::Question {
                            question,
                            rate_photos: q == 0,
                        },
                    },
                    remember: true,
                };
                step(ctx, agent, request)
            })
            .collect();
        transcript.round(ctx, steps).await?;
        round += 1;
    }
    for d in 0..plan.discussion_rounds {
        let digests: Vec<Digest> = (0..agents.len()).map(|i| digest(&agents, i)).collect();
        transcript.skip(ctx, silent(&agents), NO_BASELINE);
        let steps: Vec<_> = agents
            .iter_mut()
            .zip(digests)
            .filter(|(agent, _)| agent.last.is_some())
            .map(|(agent, digest)| {
                let request = StepRequest {
                    round,
                    step: format!("discussion {}", d + 1),
                    prompt: DISCUSSION_PROMPT.to_owned(),
                    stimulus: Stimulus::Listing {
                        listing: &plan.property,
                        ask: ListingAsk::Discussion(digest),
                    },
                    remember: true,
                };
                step(ctx, agent, request)
            })
            .collect();
        transcript.round(ctx, steps).await?;
        round += 1;
    }
    for (m, change) in plan.modifications.iter().enumerate() {
        transcript.skip(ctx, silent(&agents), NO_BASELINE);
        let steps: Vec<_> = agents
            .iter_mut()
            .filter(|agent| agent.last.is_some())
            .map(|agent| {
                let request = StepRequest {
                    round,
                    step: format!("modification {}", m + 1),
                    prompt: change.clone(),
                    stimulus: Stimulus::Listing {
                        listing: &plan.property,
                        ask: ListingAsk::Modification(change),
                    },
                    remember: false,
                };
                step(ctx, agent, request)
            })
            .collect();
        transcript.round(ctx, steps).await?;
        round += 1;
    }
    Ok(transcript)
}

const NO_BASELINE: &str = "the persona answered no question, so there was nothing to discuss or \
compare a modification against";

/// Agents that answered no question: discussion and modifications have no baseline for them.
fn silent(agents: &[Agent<'_>]) -> usize {
    agents.iter().filter(|a| a.last.is_none()).count()
}

/// What the other personas of the same iteration said last: their mean intent, what they liked
/// and disliked most, and quotes from the lowest, highest and middle of the room.
fn digest(agents: &[Agent<'_>], me: usize) -> Digest {
    let mut others: Vec<(u8, &str, &[String], &[String])> = agents
        .iter()
        .enumerate()
        .filter(|(i, a)| *i != me && a.iteration == agents[me].iteration)
        .filter_map(|(_, a)| match &a.last {
            Some((answer, Judgement::Listing(j))) => Some((
                j.purchase_intent,
                answer.as_str(),
                &j.likes[..],
                &j.dislikes[..],
            )),
            _ => None,
        })
        .collect();
    if others.is_empty() {
        return Digest::default();
    }
    others.sort_by_key(|(intent, ..)| *intent);
    let mean_intent = others.iter().map(|(i, ..)| f64::from(*i)).sum::<f64>() / others.len() as f64;
    let mut picks = vec![0, others.len() - 1, others.len() / 2];
    picks.sort_unstable();
    picks.dedup();
    Digest {
        others: others.len(),
        mean_intent,
        likes: most_said(others.iter().flat_map(|(_, _, likes, _)| likes.iter())),
        dislikes: most_said(
            others
                .iter()
                .flat_map(|(_, _, _, dislikes)| dislikes.iter()),
        ),
        quotes: picks
            .into_iter()
            .take(QUOTES)
            .map(|i| others[i].1.to_owned())
            .collect(),
    }
}

fn most_said<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for item in items {
        *counts.entry(item.trim().to_lowercase()).or_default() += 1;
    }
    let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(DIGEST_ITEMS)
        .map(|(text, _)| text)
        .collect()
}
