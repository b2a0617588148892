//! The queue contract: what the API and the scheduler enqueue and the workers consume. Payloads
//! carry ids only, so deleting a persona deletes it everywhere and a payload never goes stale.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

/// A job payload and the queue it travels on.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The queue's name before `TROUPE_QUEUE_PREFIX`.
    const QUEUE: &'static str;
}

/// Run the simulation with this id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulationJob {
    pub simulation_id: Uuid,
    pub brokerage_id: Uuid,
}

impl Job for SimulationJob {
    const QUEUE: &'static str = "simulations";
}

/// Learn from the sources of this enrichment run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrichmentJob {
    pub enrichment_id: Uuid,
    pub brokerage_id: Uuid,
}

impl Job for EnrichmentJob {
    const QUEUE: &'static str = "enrichment";
}

/// Run the match run with this id (on demand, or one brokerage's nightly slot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchingJob {
    pub run_id: Uuid,
    pub brokerage_id: Uuid,
}

impl Job for MatchingJob {
    const QUEUE: &'static str = "matching";
}

/// Make the next attempt of this webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookJob {
    pub delivery_id: Uuid,
}

impl Job for WebhookJob {
    const QUEUE: &'static str = "webhooks";
}
