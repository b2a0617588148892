//! The persona engine: persona agents answering a moderator's questions, through the LLM or the
//! rule-based offline model, then aggregated into insights.

mod aggregate;
mod focus_group;
mod offline;
mod prompt;
mod responder;
mod text;

pub use aggregate::aggregate_focus_group;
pub use focus_group::{FocusGroupRun, run_focus_group};
pub use responder::{Responder, StepError};
