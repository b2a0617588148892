//! `/api/v1/simulations`: submit simulations (queued for the workers) and read their status and
//! results. The API never runs a simulation itself.

mod planning;
mod requests;

pub(crate) use requests::SimulationParams;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::ParseFromJSON,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use troupe_shared::{
    accuracy::calibration,
    auth::Principal,
    domain::{
        CalibratedResults, RunMetadata, Simulation, SimulationFilter, SimulationKind,
        SimulationPlan, SimulationResults, SimulationStatus,
    },
    jobs::{RequestedJob, SimulationJob},
    store::{AuditRecord, CancelOutcome, NewSimulation, SimulationRecord, Submitted},
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags,
    audit::{Listed, ReadVia, audit_listed},
    auth::ApiKey,
    contract::{Contract, Violation},
    pagination,
    personas::visible,
    problem::ApiError,
};
pub(crate) use requests::FocusGroupRequest;
use requests::{IndividualRequest, InterventionRequest, MarketingRequest};

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
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
#[oai(skip_serializing_if_is_none)]
struct SimulationResult {
    id: Uuid,
    simulation_id: Uuid,
    #[oai(rename = "type")]
    kind: SimulationKind,
    status: SimulationStatus,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    input_params: SimulationPlan,
    /// Present once completed.
    results: Option<SimulationResults>,
    /// The results' probabilities through the brokerage's calibration of this kind and model,
    /// and which calibration that is; absent until one has been fitted.
    calibrated: Option<CalibratedResults>,
    metadata: Option<RunMetadata>,
    /// Why it failed.
    error: Option<String>,
}

/// A page of simulations, newest first.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct SimulationPage {
    items: Vec<Simulation>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum CancelAnswer {
    /// It had not started: cancelled.
    #[oai(status = 200)]
    Cancelled(Json<Simulation>),
    /// It is running: it stops before its next round, keeps the answers it has, and ends
    /// `cancelled` with a `simulation.cancelled` event.
    #[oai(status = 202)]
    Stopping(Json<Simulation>),
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
        same_kind(body.0.simulation_type, SimulationKind::FocusGroup)?;
        let hash = request_hash(&body.0);
        let plan = planning::focus_group(&state, &auth.0, body.0).await?;
        submit(&state, &auth.0, plan, idempotency_key.0, hash).await
    }

    /// Test marketing materials × channels on personas: open, click and reply rates.
    #[oai(path = "/marketing", method = "post")]
    async fn marketing(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<MarketingRequest>,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Accepted, ApiError> {
        same_kind(body.0.simulation_type, SimulationKind::Marketing)?;
        let hash = request_hash(&body.0);
        let plan = planning::marketing(&state, &auth.0, body.0).await?;
        submit(&state, &auth.0, plan, idempotency_key.0, hash).await
    }

    /// Compare outreach sequences over simulated days: response rates, timing, fatigue.
    #[oai(path = "/intervention", method = "post")]
    async fn intervention(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<InterventionRequest>,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Accepted, ApiError> {
        same_kind(body.0.simulation_type, SimulationKind::Intervention)?;
        let hash = request_hash(&body.0);
        let plan = planning::intervention(&state, &auth.0, body.0).await?;
        submit(&state, &auth.0, plan, idempotency_key.0, hash).await
    }

    /// One persona's reaction to a viewing, an email or a call.
    #[oai(path = "/individual", method = "post")]
    async fn individual(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<IndividualRequest>,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Accepted, ApiError> {
        same_kind(body.0.simulation_type, SimulationKind::Individual)?;
        let hash = request_hash(&body.0);
        let plan = planning::individual(&state, &auth.0, body.0).await?;
        submit(&state, &auth.0, plan, idempotency_key.0, hash).await
    }

    /// The brokerage's simulations, newest first, without their results (read those from
    /// `results_url`): filter by kind, status, the stored listing, a stored persona who took
    /// part, who submitted it and since when.
    #[oai(path = "/", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        kind: Query<Option<SimulationKind>>,
        status: Query<Option<SimulationStatus>>,
        property_id: Query<Option<Uuid>>,
        persona_id: Query<Option<Uuid>>,
        created_by: Query<Option<Uuid>>,
        /// Created at or after this instant (RFC 3339).
        since: Query<Option<DateTime<Utc>>>,
        cursor: Query<Option<String>>,
        /// 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<SimulationPage>, ApiError> {
        let caller = &auth.0;
        let size = pagination::page_size(limit.0, 50);
        if let Some(persona) = persona_id.0 {
            // Who took part is the persona's to see: a persona the caller may not see is unknown.
            visible(&state, caller, persona).await?;
        }
        let filter = SimulationFilter {
            kind: kind.0,
            status: status.0,
            property_id: property_id.0,
            persona_id: persona_id.0,
            created_by: created_by.0,
            since: since.0,
            before: pagination::cursor(cursor.0)?,
            limit: size,
        };
        let mut items = state.store.list_simulations(caller, &filter).await?;
        let next_cursor = pagination::next_cursor(&mut items, size, |s| s.id);
        let listed = items.iter().map(|s| s.id);
        audit_listed(&state, caller, Listed::Simulations, listed, ReadVia::Api).await?;
        Ok(Json(SimulationPage { items, next_cursor }))
    }

    /// Cancel a pending simulation, or stop a running one before its next round (what it has
    /// answered is kept). The agent who submitted it, a team lead or an admin may; a finished
    /// simulation is a 409.
    #[oai(path = "/:id/cancel", method = "post")]
    async fn cancel(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<CancelAnswer, ApiError> {
        let not_found = || ApiError::NotFound(format!("simulation {}", id.0));
        match state
            .store
            .cancel_simulation(&auth.0, id.0)
            .await?
            .ok_or_else(not_found)?
        {
            CancelOutcome::NotTheirs(_) => Err(ApiError::Forbidden(
                "only the agent who submitted a simulation, a team lead or an admin can cancel it"
                    .into(),
            )),
            CancelOutcome::Cancelled(simulation) => Ok(CancelAnswer::Cancelled(Json(simulation))),
            CancelOutcome::Stopping(simulation) => Ok(CancelAnswer::Stopping(Json(simulation))),
            CancelOutcome::AlreadyFinished(simulation) => Err(ApiError::Conflict(format!(
                "simulation {} is already {}: only a pending or running simulation can be cancelled",
                simulation.id,
                simulation.status.as_str()
            ))),
        }
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
            .simulation_for(&auth.0, id.0)
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
        let record = read_results(&state, &auth.0, id.0, ReadVia::Api).await?;
        let calibrated = calibrated_results(&state, &record).await?;
        let input_params = record.plan;
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
            calibrated,
            metadata: record.metadata,
            error: s.error,
        }))
    }
}

/// A simulation the caller may see, with its plan and results. Results hold clients' answers
/// (and an individual run's notes): each read is audited.
pub(crate) async fn read_results(
    state: &ApiState,
    caller: &Principal,
    id: Uuid,
    via: ReadVia,
) -> Result<SimulationRecord, ApiError> {
    let record = state
        .store
        .simulation_record(caller, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("simulation {id}")))?;
    let audited = AuditRecord {
        action: "simulation.results_read",
        subject_type: "simulation",
        subject_id: id,
        detail: via.tag(serde_json::json!({ "status": record.simulation.status.as_str() })),
    };
    state.store.audit(caller, audited).await?;
    Ok(record)
}

/// A completed simulation's figures through the calibration in force for its kind, provider
/// and model (the workspace shows the same).
pub(crate) async fn calibrated_results(
    state: &ApiState,
    record: &SimulationRecord,
) -> Result<Option<CalibratedResults>, ApiError> {
    let (Some(results), Some(metadata)) = (&record.results, &record.metadata) else {
        return Ok(None);
    };
    let fit = state
        .store
        .calibration_for(
            record.simulation.brokerage_id,
            calibration::kind_of(record.simulation.kind),
            &metadata.provider,
            &metadata.model_version,
        )
        .await?;
    Ok(fit.map(|fit| calibration::calibrated(fit, &record.plan, results)))
}

/// The PRD's `simulation_type`, when a body carries it, must name the endpoint it was sent to.
fn same_kind(given: Option<SimulationKind>, endpoint: SimulationKind) -> Result<(), ApiError> {
    match given {
        Some(kind) if kind != endpoint => Err(ApiError::BrokenRule(vec![Violation {
            pointer: "/simulation_type".into(),
            detail: format!(
                "`/simulation_type` is `{}`, but this endpoint runs `{}` simulations: send it to \
                 /api/v1/simulations/{}",
                kind.as_str(),
                endpoint.as_str(),
                kind.as_str().replace('_', "-")
            ),
        }])),
        _ => Ok(()),
    }
}

async fn submit(
    state: &ApiState,
    caller: &Principal,
    plan: SimulationPlan,
    idempotency_key: Option<String>,
    request_hash: String,
) -> Result<Accepted, ApiError> {
    let simulation = store_and_queue(state, caller, plan, idempotency_key, request_hash).await?;
    Ok(accepted(&simulation))
}

/// A focus group from the workspace's form: planned and queued exactly as the API's.
pub(crate) async fn submit_focus_group(
    state: &ApiState,
    caller: &Principal,
    request: FocusGroupRequest,
) -> Result<Simulation, ApiError> {
    let hash = request_hash(&request);
    let plan = planning::focus_group(state, caller, request).await?;
    store_and_queue(state, caller, plan, None, hash).await
}

/// A request built by one of the workspace's forms, checked against its kind's published
/// schema and planned, stored and queued as the kind's endpoint would.
pub(crate) async fn submit_request(
    state: &ApiState,
    caller: &Principal,
    contract: &Contract,
    kind: SimulationKind,
    request: &serde_json::Value,
) -> Result<Simulation, ApiError> {
    let plan = plan_stored(state, caller, contract, kind, request).await?;
    store_and_queue(state, caller, plan, None, request_hash(request)).await
}

/// A stored request (a schedule's) checked against its kind's published schema and planned as
/// `caller`, exactly as the kind's endpoint would plan it.
pub(crate) async fn plan_stored(
    state: &ApiState,
    caller: &Principal,
    contract: &Contract,
    kind: SimulationKind,
    request: &serde_json::Value,
) -> Result<SimulationPlan, ApiError> {
    fn parsed<T: ParseFromJSON>(
        contract: &Contract,
        schema: &str,
        request: &serde_json::Value,
    ) -> Result<T, ApiError> {
        contract.check_against(schema, request)?;
        T::parse_from_json(Some(request.clone())).map_err(|e| {
            ApiError::Validation(format!("the request is invalid: {}", e.into_message()))
        })
    }
    match kind {
        SimulationKind::FocusGroup => {
            let body: FocusGroupRequest = parsed(contract, "FocusGroupRequest", request)?;
            same_kind(body.simulation_type, kind)?;
            planning::focus_group(state, caller, body).await
        }
        SimulationKind::Marketing => {
            let body: MarketingRequest = parsed(contract, "MarketingRequest", request)?;
            same_kind(body.simulation_type, kind)?;
            planning::marketing(state, caller, body).await
        }
        SimulationKind::Intervention => {
            let body: InterventionRequest = parsed(contract, "InterventionRequest", request)?;
            same_kind(body.simulation_type, kind)?;
            planning::intervention(state, caller, body).await
        }
        SimulationKind::Individual => {
            let body: IndividualRequest = parsed(contract, "IndividualRequest", request)?;
            same_kind(body.simulation_type, kind)?;
            planning::individual(state, caller, body).await
        }
    }
}

/// Submits a planned simulation under `key` (a schedule's slot): the same key submits once, so
/// two scheduler replicas firing one slot start one simulation.
pub(crate) async fn submit_once(
    state: &ApiState,
    caller: &Principal,
    plan: SimulationPlan,
    key: String,
) -> Result<Simulation, ApiError> {
    let hash = request_hash(&key);
    store_and_queue(state, caller, plan, Some(key), hash).await
}

/// Stores the simulation (or finds the one an earlier submission with this key made) and
/// queues it.
async fn store_and_queue(
    state: &ApiState,
    caller: &Principal,
    plan: SimulationPlan,
    idempotency_key: Option<String>,
    request_hash: String,
) -> Result<Simulation, ApiError> {
    let new = NewSimulation {
        plan,
        idempotency: idempotency_key.map(|key| (key, request_hash, state.idempotency_ttl)),
        active_limit: state.limits.max_active_per_brokerage,
    };
    let simulation = match state.store.create_simulation(caller, new).await? {
        Submitted::Created(simulation, request) => {
            let job = SimulationJob::for_run(simulation.brokerage_id, simulation.id);
            state
                .queues
                .simulations
                .push_after_commit(job, request)
                .await;
            simulation
        }
        Submitted::Replayed(simulation) => simulation,
        Submitted::KeyReused => return Err(ApiError::IdempotencyKeyReused),
        Submitted::AtCapacity(active) => return Err(ApiError::at_capacity(active, "simulations")),
    };
    Ok(simulation)
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

/// A request's fingerprint, to tell a repeated request from another one under the same key.
pub(crate) fn request_hash(body: &impl Serialize) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(body).unwrap_or_default()))
}
