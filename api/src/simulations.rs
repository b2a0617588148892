//! `/api/v1/simulations`: submit simulations (queued for the workers) and read their status and
//! results. The API never runs a simulation itself.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Header, param::Path, payload::Json};
use serde::Serialize;
use sha2::{Digest, Sha256};
use troupe_shared::{
    auth::Principal,
    domain::{
        FocusGroupPlan, PropertyDetails, RunMetadata, Simulation, SimulationKind,
        SimulationResults, SimulationStatus,
    },
    jobs::SimulationJob,
    store::{NewSimulation, SimulationCreated},
};
use uuid::Uuid;

use crate::{ApiState, ApiTags, auth::ApiKey, problem::ApiError};

/// Upper bound on persona × question × iteration steps in one simulation.
const MAX_AGENT_STEPS: usize = 20_000;
const DEFAULT_AGENTS: u32 = 20;
const DEFAULT_QUESTIONS: [&str; 2] = [
    "What is your first impression of this property?",
    "Would you buy it at the asking price? What would change your mind?",
];

/// The PRD's focus-group parameters.
#[derive(Object, Serialize)]
struct FocusGroupRequest {
    /// A stored listing; give this or `property`.
    property_id: Option<Uuid>,
    /// A listing inline; give this or `property_id`.
    property: Option<PropertyDetails>,
    /// Stored personas to include.
    #[oai(default, validator(max_items = 200))]
    persona_ids: Vec<Uuid>,
    /// Segments to draw personas from (up to `num_agents` in all).
    #[oai(default, validator(max_items = 20, min_length = 1, max_length = 100))]
    persona_segments: Vec<String>,
    /// The moderator's questions (a first-impression and a purchase question when omitted).
    #[oai(default, validator(max_items = 20, min_length = 1, max_length = 2000))]
    questions: Vec<String>,
    /// Modifications to test (the listing's candidate modifications when omitted).
    #[oai(validator(max_items = 20, min_length = 1, max_length = 500))]
    modifications_to_test: Option<Vec<String>>,
    #[oai(default)]
    simulation_params: SimulationParams,
}

#[derive(Object, Serialize, Default)]
struct SimulationParams {
    /// Personas drawn from `persona_segments`, 1 to 200 (default 20), split evenly.
    #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
    num_agents: Option<u32>,
    /// Repetitions with different seeds, 1 to 10 (default 1).
    #[oai(validator(minimum(value = "1"), maximum(value = "10")))]
    iterations: Option<u32>,
    /// Sampling temperature, 0 to 2 (default 0.7).
    #[oai(validator(minimum(value = "0"), maximum(value = "2")))]
    temperature: Option<f64>,
    /// Same seed and inputs give the same simulation (random when omitted); with the response
    /// cache, a repeat costs no model calls.
    seed: Option<u64>,
    /// Tokens the simulation may spend (the service's default when omitted, at most its maximum).
    #[oai(validator(minimum(value = "1")))]
    token_budget: Option<u64>,
}

#[derive(Object)]
struct SimulationAccepted {
    id: Uuid,
    status: SimulationStatus,
    status_url: String,
    results_url: String,
}

#[derive(ApiResponse)]
enum Accepted {
    /// Queued; poll `status_url`. A repeated request with the same `Idempotency-Key` answers
    /// with the simulation the first one created.
    #[oai(status = 202)]
    Simulation(Json<SimulationAccepted>, #[oai(header = "Location")] String),
}

/// The PRD's Simulation Result model.
#[derive(Object)]
struct SimulationResult {
    id: Uuid,
    simulation_id: Uuid,
    #[oai(rename = "type")]
    kind: SimulationKind,
    status: SimulationStatus,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    input_params: FocusGroupPlan,
    /// Present once completed.
    results: Option<SimulationResults>,
    metadata: Option<RunMetadata>,
    /// Why it failed.
    error: Option<String>,
}

pub struct SimulationsApi;

#[OpenApi(prefix_path = "/simulations", tag = "ApiTags::Simulations")]
impl SimulationsApi {
    /// Run a focus group: personas react to a listing, its photos and candidate modifications.
    #[oai(path = "/focus-group", method = "post")]
    async fn focus_group(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<FocusGroupRequest>,
        /// Makes a retried submission safe: the same key and body return the first simulation.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Accepted, ApiError> {
        let caller = &auth.0;
        let request_hash = hex_sha256(&serde_json::to_vec(&body.0).unwrap_or_default());
        let plan = plan_focus_group(&state, caller, body.0).await?;
        let progress_total =
            (plan.persona_ids.len() * plan.questions.len() * plan.iterations as usize) as i64;
        let new = NewSimulation {
            kind: SimulationKind::FocusGroup,
            plan: serde_json::to_value(&plan).map_err(|e| ApiError::Internal(Box::new(e)))?,
            progress_total,
            idempotency: idempotency_key
                .0
                .map(|key| (key, request_hash, state.idempotency_ttl)),
        };
        let simulation = match state.store.create_simulation(caller, new).await? {
            SimulationCreated::Created(simulation) => {
                enqueue(&state, &simulation).await?;
                simulation
            }
            SimulationCreated::Replayed(simulation) => simulation,
            SimulationCreated::KeyReused => return Err(ApiError::IdempotencyKeyReused),
        };
        Ok(accepted(&simulation))
    }

    /// A simulation's status and progress.
    #[oai(path = "/:id/status", method = "get")]
    async fn status(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<Simulation>, ApiError> {
        state
            .store
            .get_simulation(auth.0.brokerage_id, id.0)
            .await?
            .map(Json)
            .ok_or_else(|| ApiError::NotFound(format!("simulation {}", id.0)))
    }

    /// A simulation's results (`results` is absent until it completes).
    #[oai(path = "/:id/results", method = "get")]
    async fn results(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<SimulationResult>, ApiError> {
        let record = state
            .store
            .simulation_record(auth.0.brokerage_id, id.0)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("simulation {}", id.0)))?;
        let input_params =
            serde_json::from_value(record.plan).map_err(|e| ApiError::Internal(Box::new(e)))?;
        let s = record.simulation;
        Ok(Json(SimulationResult {
            id: s.id,
            simulation_id: s.id,
            kind: s.kind,
            status: s.status,
            created_at: s.created_at,
            completed_at: s.completed_at,
            input_params,
            results: record.results,
            metadata: record.metadata,
            error: s.error,
        }))
    }
}

/// Checks the request against what the caller may see and fixes everything a worker needs.
async fn plan_focus_group(
    state: &ApiState,
    caller: &Principal,
    request: FocusGroupRequest,
) -> Result<FocusGroupPlan, ApiError> {
    let property = match (request.property_id, request.property) {
        (Some(id), None) => {
            state
                .store
                .get_property(caller.brokerage_id, id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("property {id}")))?
                .details
        }
        (None, Some(inline)) => inline,
        _ => {
            return Err(ApiError::Validation(
                "give exactly one of property_id and property".into(),
            ));
        }
    };
    let mut chosen: Vec<Uuid> = Vec::new();
    let mut seen = BTreeSet::new();
    for id in request.persona_ids {
        if seen.insert(id) {
            state
                .store
                .get_persona(caller, id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("persona {id}")))?;
            chosen.push(id);
        }
    }
    let params = request.simulation_params;
    if !request.persona_segments.is_empty() {
        let agents = params.num_agents.unwrap_or(DEFAULT_AGENTS) as usize;
        let per_segment = agents.div_ceil(request.persona_segments.len()) as u32;
        for segment in &request.persona_segments {
            let ids = state
                .store
                .persona_ids_in_segment(caller, segment, per_segment)
                .await?;
            if ids.is_empty() {
                return Err(ApiError::Validation(format!(
                    "segment {segment:?} has no personas you can see"
                )));
            }
            chosen.extend(ids.into_iter().filter(|id| seen.insert(*id)));
        }
    }
    if chosen.is_empty() {
        return Err(ApiError::Validation(
            "name the participants with persona_ids or persona_segments".into(),
        ));
    }
    let questions = if request.questions.is_empty() {
        DEFAULT_QUESTIONS.map(String::from).to_vec()
    } else {
        request.questions
    };
    let iterations = params.iterations.unwrap_or(1);
    let steps = chosen.len() * questions.len() * iterations as usize;
    if steps > MAX_AGENT_STEPS {
        return Err(ApiError::Validation(format!(
            "{steps} agent steps (personas × questions × iterations) exceed the limit of {MAX_AGENT_STEPS}"
        )));
    }
    let token_budget = params.token_budget.unwrap_or(state.token_budgets.0);
    if token_budget > state.token_budgets.1 {
        return Err(ApiError::Validation(format!(
            "token_budget may be at most {}",
            state.token_budgets.1
        )));
    }
    Ok(FocusGroupPlan {
        property_id: request.property_id,
        modifications: request
            .modifications_to_test
            .unwrap_or_else(|| property.candidate_modifications.clone()),
        property,
        persona_ids: chosen,
        questions,
        iterations,
        temperature: params.temperature.unwrap_or(0.7),
        seed: params.seed.unwrap_or_else(rand_seed),
        token_budget,
    })
}

async fn enqueue(state: &ApiState, simulation: &Simulation) -> Result<(), ApiError> {
    let job = SimulationJob {
        simulation_id: simulation.id,
        brokerage_id: simulation.brokerage_id,
    };
    if let Err(e) = state.queue.push(job).await {
        tracing::error!(simulation = %simulation.id, error = %e, "enqueue failed");
        let reason =
            "the job queue was unavailable when this simulation was submitted; submit it again";
        state
            .store
            .fail_simulation(simulation.id, None, reason, None)
            .await?;
        return Err(ApiError::Unavailable(
            "the job queue is unavailable; try again shortly".into(),
        ));
    }
    Ok(())
}

fn accepted(simulation: &Simulation) -> Accepted {
    let base = format!("/api/v1/simulations/{}", simulation.id);
    Accepted::Simulation(
        Json(SimulationAccepted {
            id: simulation.id,
            status: simulation.status,
            status_url: format!("{base}/status"),
            results_url: format!("{base}/results"),
        }),
        format!("{base}/status"),
    )
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn rand_seed() -> u64 {
    // UUIDv4 bits are from the OS RNG; no separate RNG dependency for one number.
    Uuid::new_v4().as_u64_pair().0
}
