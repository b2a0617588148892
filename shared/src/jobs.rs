//! The queue contract: what the API enqueues and the workers consume. Payloads carry ids only, so
//! deleting a persona deletes it everywhere and a payload never goes stale.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Queue names (before `TROUPE_QUEUE_PREFIX`).
pub mod queues {
    pub const SIMULATIONS: &str = "simulations";
}

/// Run the simulation with this id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulationJob {
    pub simulation_id: Uuid,
    pub brokerage_id: Uuid,
}
