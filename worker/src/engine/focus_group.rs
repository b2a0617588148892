//! The focus-group world: a moderator puts the listing and each question to every persona; all
//! personas answer in parallel, each remembering what it said earlier in the session.

use std::sync::atomic::{AtomicI64, Ordering};

use futures::{StreamExt, TryStreamExt, stream};
use troupe_shared::domain::{AgentResponse, FocusGroupPlan, Persona};

use super::{
    prompt::{Recollection, Turn},
    responder::{Responder, StepError},
};
use crate::llm::Ledger;

pub struct FocusGroupRun {
    pub responses: Vec<AgentResponse>,
    pub failed_steps: u64,
    /// The first failed step's reason, to explain a run in which every step failed.
    pub first_failure: Option<String>,
}

/// One persona's session in one iteration.
struct Session {
    responses: Vec<AgentResponse>,
    failures: Vec<String>,
}

/// Runs every (iteration, persona) session, `parallelism` at a time, counting finished steps in
/// `progress` and charging the model's calls to `ledger`. Fails only when a step says the whole
/// run cannot succeed.
pub async fn run_focus_group(
    plan: &FocusGroupPlan,
    personas: &[Persona],
    responder: &Responder,
    parallelism: usize,
    progress: &AtomicI64,
    ledger: &Ledger,
) -> Result<FocusGroupRun, StepError> {
    // The futures are built up front: a stream combinator holding a closure over borrowed
    // personas makes the whole job future fail rustc's `Send` check (rust-lang/rust#102211).
    let sessions: Vec<_> = (0..plan.iterations)
        .flat_map(|iteration| {
            personas
                .iter()
                .enumerate()
                .map(move |(i, p)| (iteration, i, p))
        })
        .map(|(iteration, index, persona)| {
            let seed = session_seed(plan.seed, iteration, index);
            let session = run_session(plan, persona, iteration, seed, responder, progress, ledger);
            async move { session.await.map(|session| (iteration, index, session)) }
        })
        .collect();
    let mut finished: Vec<(u32, usize, Session)> = stream::iter(sessions)
        .buffer_unordered(parallelism)
        .try_collect()
        .await?;
    // Sessions finish in any order; results are reported in a stable one.
    finished.sort_by_key(|(iteration, index, _)| (*iteration, *index));
    let mut run = FocusGroupRun {
        responses: Vec::new(),
        failed_steps: 0,
        first_failure: None,
    };
    for (_, _, session) in finished {
        run.responses.extend(session.responses);
        run.failed_steps += session.failures.len() as u64;
        if run.first_failure.is_none() {
            run.first_failure = session.failures.into_iter().next();
        }
    }
    Ok(run)
}

#[allow(clippy::too_many_arguments)]
async fn run_session(
    plan: &FocusGroupPlan,
    persona: &Persona,
    iteration: u32,
    seed: u64,
    responder: &Responder,
    progress: &AtomicI64,
    ledger: &Ledger,
) -> Result<Session, StepError> {
    let mut session = Session {
        responses: Vec::with_capacity(plan.questions.len()),
        failures: Vec::new(),
    };
    let mut memory: Vec<Recollection> = Vec::new();
    for (q, question) in plan.questions.iter().enumerate() {
        let turn = Turn {
            persona,
            listing: &plan.property,
            modifications: &plan.modifications,
            memory: &memory,
            question,
        };
        // Seeds two apart: a step may use its seed and the next one (a malformed-reply retry).
        let outcome = responder
            .answer(
                &turn,
                plan.temperature,
                seed.wrapping_add(2 * q as u64),
                ledger,
            )
            .await;
        progress.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(step) => {
                memory.push(Recollection {
                    question: question.clone(),
                    answer: step.answer.clone(),
                    purchase_intent: step.judgement.purchase_intent,
                });
                session.responses.push(AgentResponse {
                    persona_id: persona.id,
                    persona_name: persona.profile.name.clone(),
                    segment: segment_of(persona),
                    iteration,
                    question: question.clone(),
                    answer: step.answer,
                    judgement: step.judgement,
                });
            }
            Err(StepError::Agent(reason)) => session.failures.push(reason),
            Err(fatal) => return Err(fatal),
        }
    }
    Ok(session)
}

pub fn segment_of(persona: &Persona) -> String {
    persona
        .profile
        .segment
        .clone()
        .unwrap_or_else(|| "unsegmented".to_owned())
}

/// A distinct, reproducible seed per session (splitmix-style mixing of the run seed).
fn session_seed(seed: u64, iteration: u32, index: usize) -> u64 {
    let mut z =
        seed ^ (u64::from(iteration) << 32) ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
