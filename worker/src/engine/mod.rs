//! The persona engine: persona agents answering a stimulus round by round, through the LLM or
//! the rule-based offline model, then aggregated into insights. One module per simulation kind
//! runs its world; `aggregate` turns the transcript into results.

mod agent;
mod aggregate;
mod copywriter;
pub mod factory;
#[cfg(test)]
mod fixtures;
mod focus_group;
mod individual;
mod intervention;
mod marketing;
mod memory;
mod offline;
mod order;
pub(crate) mod prompt;
pub(crate) mod reply;
mod responder;
mod ssr;
pub(crate) mod text;
mod validate;

pub use agent::{LiveAnswer, Progress, RunContext, Transcript};
pub use aggregate::aggregate;
pub use copywriter::Rewrite;
pub use responder::{Responder, StepError};
pub(crate) use responder::{ask, ask_with};

use troupe_shared::domain::{Persona, SimulationPlan};

/// Runs a plan's agents over `personas` (for an individual simulation, the first).
pub async fn run(
    plan: &SimulationPlan,
    personas: &[Persona],
    ctx: &RunContext<'_>,
) -> Result<Transcript, StepError> {
    match plan {
        SimulationPlan::FocusGroup(p) => focus_group::run(p, personas, ctx).await,
        SimulationPlan::Marketing(p) => marketing::run(p, personas, ctx).await,
        SimulationPlan::Intervention(p) => intervention::run(p, personas, ctx).await,
        SimulationPlan::Individual(p) => match personas.first() {
            Some(persona) => individual::run(p, persona, ctx).await,
            None => Ok(Transcript::default()),
        },
    }
}
