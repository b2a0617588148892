//! The focus-group world. A moderator presents the listing and asks each question to the whole
//! panel at once; in discussion rounds each persona hears a digest of the others and may change
//! its mind; then each modification is put to the panel on its own, against the intent the
//! persona held just before.

use troupe_shared::domain::{FocusGroupPlan, Judgement, Persona};

use super::{
    agent::{Agent, RunContext, StepRequest, Transcript, panel, step},
    order::{shown_order, shown_photo_order},
    prompt::{DISCUSSION_PROMPT, Digest, ListingAsk, Stimulus, judgeable_photos},
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
    let mut moderator = Moderator {
        ctx,
        plan,
        round: 0,
        transcript: &mut transcript,
    };
    let judgeable = judgeable_photos(&plan.property);
    for (q, question) in plan.questions.iter().enumerate() {
        let options = question.typed().map(|t| t.options()).unwrap_or_default();
        let asks = agents
            .iter()
            .map(|agent| {
                let order = shown_order(
                    plan.settings.seed,
                    agent.persona.id,
                    agent.iteration,
                    q,
                    options.len(),
                );
                // Photos are rated with the first answer.
                let photo_order = match q {
                    0 => shown_photo_order(
                        plan.settings.seed,
                        agent.persona.id,
                        agent.iteration,
                        &judgeable,
                    ),
                    _ => Vec::new(),
                };
                Some(ListingAsk::Question {
                    question,
                    photo_order,
                    shown_options: order.iter().map(|&i| options[i].as_str()).collect(),
                })
            })
            .collect();
        let label = format!("question {}", q + 1);
        moderator
            .ask(&mut agents, &label, question.text(), asks, true)
            .await?;
    }
    // Discussion and modifications build on an earlier answer; agents without one sit out.
    for d in 0..plan.discussion_rounds {
        let asks = (0..agents.len())
            .map(|i| {
                agents[i]
                    .last
                    .is_some()
                    .then(|| ListingAsk::Discussion(digest(&agents, i)))
            })
            .collect();
        let label = format!("discussion {}", d + 1);
        moderator
            .ask(&mut agents, &label, DISCUSSION_PROMPT, asks, true)
            .await?;
    }
    for (m, change) in plan.modifications.iter().enumerate() {
        let asks = agents
            .iter()
            .map(|a| match &a.last {
                Some((_, Judgement::Listing(j))) => Some(ListingAsk::Modification {
                    change,
                    intent_before: j.purchase_intent,
                }),
                _ => None,
            })
            .collect();
        let label = format!("modification {}", m + 1);
        moderator
            .ask(&mut agents, &label, change, asks, false)
            .await?;
    }
    Ok(transcript)
}

/// Puts the listing and one ask per agent to the panel, a round at a time.
struct Moderator<'r, 'c> {
    ctx: &'r RunContext<'c>,
    plan: &'r FocusGroupPlan,
    round: u32,
    transcript: &'r mut Transcript,
}

impl Moderator<'_, '_> {
    /// One round: each agent with an ask answers it; those without are recorded as skipped.
    async fn ask(
        &mut self,
        agents: &mut [Agent<'_>],
        label: &str,
        prompt: &str,
        asks: Vec<Option<ListingAsk<'_>>>,
        remember: bool,
    ) -> Result<(), StepError> {
        let silent = asks.iter().filter(|a| a.is_none()).count();
        self.transcript
            .skip(self.ctx, silent, self.round, label, NO_BASELINE);
        let steps: Vec<_> = agents
            .iter_mut()
            .zip(asks)
            .filter_map(|(agent, ask)| {
                let request = StepRequest {
                    round: self.round,
                    step: label.to_owned(),
                    prompt: prompt.to_owned(),
                    stimulus: Stimulus::Listing {
                        listing: &self.plan.property,
                        ask: ask?,
                    },
                    remember,
                };
                Some(step(self.ctx, agent, request))
            })
            .collect();
        self.transcript.round(self.ctx, steps).await?;
        self.round += 1;
        Ok(())
    }
}

const NO_BASELINE: &str = "the persona answered no question, so there was nothing to discuss or \
compare a modification against";

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
