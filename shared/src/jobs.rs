//! The queue contract: what the API and the scheduler enqueue and the workers consume. Payloads
//! carry ids only, so deleting a persona deletes it everywhere and a payload never goes stale.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

/// A job payload and the queue it travels on.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The queue's name before `TROUPE_QUEUE_PREFIX`.
    const QUEUE: &'static str;
}

/// A job the API or the scheduler requests through the store's outbox (`job_requests`), which
/// the dispatcher can rebuild from the request's brokerage and run.
pub trait RequestedJob: Job {
    fn for_run(brokerage_id: Uuid, run_id: Uuid) -> Self;
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

impl RequestedJob for SimulationJob {
    fn for_run(brokerage_id: Uuid, simulation_id: Uuid) -> Self {
        SimulationJob {
            simulation_id,
            brokerage_id,
        }
    }
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

impl RequestedJob for EnrichmentJob {
    fn for_run(brokerage_id: Uuid, enrichment_id: Uuid) -> Self {
        EnrichmentJob {
            enrichment_id,
            brokerage_id,
        }
    }
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

impl RequestedJob for MatchingJob {
    fn for_run(brokerage_id: Uuid, run_id: Uuid) -> Self {
        MatchingJob {
            run_id,
            brokerage_id,
        }
    }
}

/// Make the next attempt of this webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookJob {
    pub delivery_id: Uuid,
}

impl Job for WebhookJob {
    const QUEUE: &'static str = "webhooks";
}
