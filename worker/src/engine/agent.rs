//! Persona agents and the rounds they answer in. A run is a sequence of rounds; in each, every
//! agent takes one step, all in parallel (as many at once as the provider key keeps busy, up to
//! the worker's agent parallelism), so a run's wall time is its number of rounds × one model call.

use std::{
    future::Future,
    sync::{
        Mutex,
        atomic::{AtomicI64, Ordering},
    },
};

use futures::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use troupe_shared::domain::{AgentResponse, FailedStep, Judgement, Persona};
use uuid::Uuid;

use super::{
    copywriter::Rewrite,
    memory::Memory,
    prompt::{Stimulus, Turn},
    responder::{Responder, StepError},
};
use crate::llm::Ledger;

/// What every step of one run shares.
pub struct RunContext<'a> {
    pub responder: &'a Responder,
    pub ledger: &'a Ledger,
    /// Agent steps finished, and the answers not yet reported live.
    pub progress: &'a Progress,
    /// The most agent steps of this run at once, whatever the key allows.
    pub parallelism: usize,
    pub temperature: f64,
    /// Fires when the run has been asked to stop: rounds not yet begun are not taken.
    pub stop: &'a CancellationToken,
}

impl RunContext<'_> {
    /// Agent steps to run at once now: looked up per round, so a round after the provider
    /// lowered its limits (or the calls slowed) runs narrower.
    pub fn width(&self) -> usize {
        self.responder.concurrency(self.parallelism)
    }
}

/// A run's progress as its steps finish: how many, and the answers given since the last report
/// (which the simulation publishes as they arrive).
#[derive(Default)]
pub struct Progress {
    done: AtomicI64,
    failed: AtomicI64,
    fresh: Mutex<Vec<LiveAnswer>>,
}

/// One persona's answer, as a live update shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LiveAnswer {
    pub persona_id: Uuid,
    pub persona_name: String,
    pub segment: String,
    pub iteration: u32,
    pub round: u32,
    pub step: String,
    pub answer: String,
}

impl Progress {
    /// Steps answered.
    pub fn done(&self) -> i64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Steps that failed and will not be answered.
    pub fn failed(&self) -> i64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The answers given since the last call.
    pub fn take_answers(&self) -> Vec<LiveAnswer> {
        std::mem::take(&mut *self.fresh.lock().expect("progress lock"))
    }

    fn answered(&self, answer: LiveAnswer) {
        self.fresh.lock().expect("progress lock").push(answer);
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    fn failed_steps(&self, steps: i64) {
        self.failed.fetch_add(steps, Ordering::Relaxed);
    }
}

/// One persona in one iteration (or one exposure) of a run.
pub struct Agent<'p> {
    pub persona: &'p Persona,
    pub iteration: u32,
    seed: u64,
    steps: u64,
    memory: Memory,
    /// The last answer and judgement, for digests and for state carried between touches.
    pub last: Option<(String, Judgement)>,
}

impl<'p> Agent<'p> {
    /// `index` tells agents of one iteration apart; each gets its own reproducible seeds.
    pub fn new(persona: &'p Persona, iteration: u32, index: usize, run_seed: u64) -> Self {
        Agent {
            persona,
            iteration,
            seed: mix(run_seed, iteration, index),
            steps: 0,
            memory: Memory::default(),
            last: None,
        }
    }

    pub fn segment(&self) -> String {
        self.persona
            .profile
            .segment
            .clone()
            .unwrap_or_else(|| "unsegmented".to_owned())
    }
}

/// `personas` × `iterations`, iteration-major.
pub fn panel<'p>(personas: &'p [Persona], iterations: u32, seed: u64) -> Vec<Agent<'p>> {
    (0..iterations)
        .flat_map(|iteration| {
            personas
                .iter()
                .enumerate()
                .map(move |(i, p)| Agent::new(p, iteration, i, seed))
        })
        .collect()
}

pub struct StepRequest<'s> {
    pub round: u32,
    pub step: String,
    pub prompt: String,
    pub stimulus: Stimulus<'s>,
    /// Whether the exchange joins the agent's memory (hypotheticals such as a modification do
    /// not, so each is judged against the same baseline).
    pub remember: bool,
}

/// A step's outcome: the response, or why this agent's step failed (the run goes on).
pub type StepOutcome = Result<AgentResponse, FailedStep>;

pub async fn step(
    ctx: &RunContext<'_>,
    agent: &mut Agent<'_>,
    request: StepRequest<'_>,
) -> Result<StepOutcome, StepError> {
    // Seeds two apart: a step may use its seed and the next (a malformed-reply retry).
    let seed = agent.seed.wrapping_add(2 * agent.steps);
    agent.steps += 1;
    let turn = Turn {
        persona: agent.persona,
        memory: &agent.memory,
        stimulus: request.stimulus,
    };
    let outcome = ctx
        .responder
        .answer(&turn, ctx.temperature, seed, ctx.ledger)
        .await;
    let answer = match outcome {
        Ok(answer) => answer,
        Err(StepError::Agent(reason)) => {
            ctx.progress.failed_steps(1);
            return Ok(Err(FailedStep {
                persona_id: Some(agent.persona.id),
                persona_name: Some(agent.persona.profile.name.clone()),
                iteration: agent.iteration,
                round: request.round,
                step: request.step,
                steps: 1,
                reason,
            }));
        }
        Err(fatal) => return Err(fatal),
    };
    ctx.progress.answered(LiveAnswer {
        persona_id: agent.persona.id,
        persona_name: agent.persona.profile.name.clone(),
        segment: agent.segment(),
        iteration: agent.iteration,
        round: request.round,
        step: request.step.clone(),
        answer: answer.answer.clone(),
    });
    if request.remember {
        let score = match &answer.judgement {
            Judgement::Listing(j) => Some(j.purchase_intent),
            Judgement::Scenario(j) => Some(j.interest),
            _ => None,
        };
        agent
            .memory
            .remember(&request.prompt, &answer.answer, score);
        agent.last = Some((answer.answer.clone(), answer.judgement.clone()));
    }
    Ok(Ok(AgentResponse {
        persona_id: agent.persona.id,
        persona_name: agent.persona.profile.name.clone(),
        segment: agent.segment(),
        iteration: agent.iteration,
        round: request.round,
        step: request.step,
        prompt: request.prompt,
        answer: answer.answer,
        judgement: answer.judgement,
    }))
}

/// Everything a run's agents said, and what failed.
#[derive(Debug, Default)]
pub struct Transcript {
    pub responses: Vec<AgentResponse>,
    pub failed_steps: u64,
    /// The first failed step's reason, to explain a run in which every step failed.
    pub first_failure: Option<String>,
    /// Each failure, for the results.
    pub failures: Vec<FailedStep>,
    /// Rounds left untaken because the run was asked to stop.
    pub rounds_not_taken: u32,
    /// Marketing: rewritten copy for materials whose objections are worth answering.
    pub rewrites: Vec<Rewrite>,
}

impl Transcript {
    /// Runs one round's steps, [`RunContext::width`] at a time, and records them in order (none once
    /// the run has been asked to stop). The
    /// futures are built by the caller up front: a stream combinator holding a closure over
    /// borrowed agents makes the job future fail rustc's `Send` check (rust-lang/rust#102211).
    pub async fn round<F>(&mut self, ctx: &RunContext<'_>, steps: Vec<F>) -> Result<(), StepError>
    where
        F: Future<Output = Result<StepOutcome, StepError>>,
    {
        if ctx.stop.is_cancelled() {
            self.rounds_not_taken += 1;
            return Ok(());
        }
        let outcomes: Vec<StepOutcome> = stream::iter(steps)
            .buffered(ctx.width())
            .try_collect()
            .await?;
        for outcome in outcomes {
            match outcome {
                Ok(response) => self.responses.push(response),
                Err(failure) => {
                    self.failed_steps += 1;
                    self.first_failure
                        .get_or_insert_with(|| failure.reason.clone());
                    self.failures.push(failure);
                }
            }
        }
        Ok(())
    }

    /// Steps not taken because the agent has nothing to build on (it answered no earlier
    /// round): they count as failed.
    pub fn skip(
        &mut self,
        ctx: &RunContext<'_>,
        steps: usize,
        round: u32,
        step: &str,
        reason: &str,
    ) {
        if steps > 0 && !ctx.stop.is_cancelled() {
            ctx.progress.failed_steps(steps as i64);
            self.failed_steps += steps as u64;
            self.first_failure.get_or_insert_with(|| reason.to_owned());
            self.failures.push(FailedStep {
                persona_id: None,
                persona_name: None,
                iteration: 0,
                round,
                step: step.to_owned(),
                steps: steps as u64,
                reason: reason.to_owned(),
            });
        }
    }
}

/// A distinct, reproducible seed per agent (splitmix-style mixing of the run seed).
fn mix(seed: u64, iteration: u32, index: usize) -> u64 {
    let mut z =
        seed ^ (u64::from(iteration) << 32) ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
