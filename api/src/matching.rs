//! `/api/v1/matching`: ranked, explained matches between listings and clients, and brokers'
//! feedback on them.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use troupe_shared::{
    auth::Principal,
    domain::{
        Feedback, FeedbackOutcome, MatchCaller, MatchDirection, MatchParams, MatchRecommendation,
        MatchRun,
    },
    jobs::{MatchingJob, RequestedJob},
    store::{AuditRecord, Submitted},
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags, audit::ReadVia, auth::ApiKey, pagination, personas::visible,
    problem::ApiError, simulations::request_hash,
};

fn default_limit() -> u32 {
    10
}

/// Records that the caller read a run's matches. They name clients and say why each fits, so the
/// entry lists the clients shown (a listing's run can name dozens), as `persona.listed` does.
pub(crate) async fn audit_recommendations_read<'a>(
    state: &ApiState,
    caller: &Principal,
    run_id: Uuid,
    shown: impl IntoIterator<Item = &'a MatchRecommendation>,
    via: ReadVia,
) -> Result<(), ApiError> {
    let mut persona_ids: Vec<Uuid> = shown.into_iter().map(|r| r.persona_id).collect();
    persona_ids.sort_unstable();
    persona_ids.dedup();
    let record = AuditRecord {
        action: "match.recommendations_read",
        subject_type: "match_run",
        subject_id: run_id,
        detail: via.tag(serde_json::json!({ "persona_ids": persona_ids })),
    };
    Ok(state.store.audit(caller, record).await?)
}

fn default_min_score() -> f64 {
    0.3
}

/// Match one listing against every client the caller may see.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PropertyToClients {
    property_id: Uuid,
    #[oai(flatten)]
    options: MatchOptions,
}

/// Match one client against every active listing.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ClientToProperties {
    persona_id: Uuid,
    #[oai(flatten)]
    options: MatchOptions,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MatchOptions {
    /// Recommendations to return, 1 to 100.
    #[oai(
        default = "default_limit",
        validator(minimum(value = "1"), maximum(value = "100"))
    )]
    limit: u32,
    /// Leave out matches scoring below this (0–1).
    #[oai(
        default = "default_min_score",
        validator(minimum(value = "0"), maximum(value = "1"))
    )]
    min_score: f64,
    /// Have the model (when one is configured) re-rank the matches kept and write their
    /// explanation, highlights and outreach.
    #[oai(default)]
    rerank: bool,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MatchAccepted {
    id: Uuid,
    status_url: String,
    recommendations_url: String,
}

#[derive(ApiResponse)]
enum Accepted {
    /// Queued; the recommendations appear when the run completes.
    #[oai(status = 202)]
    Run(Json<MatchAccepted>, #[oai(header = "Location")] String),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Recommendations {
    run: MatchRun,
    /// Best first; clients the caller may not see are left out.
    recommendations: Vec<MatchRecommendation>,
    /// The best pairs excluded by exactly one hard constraint, best first, each with that
    /// constraint and how far off it was (`missed`): for a broker who may call anyway.
    near_misses: Vec<MatchRecommendation>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MatchRunPage {
    items: Vec<MatchRun>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct FeedbackIn {
    outcome: FeedbackOutcome,
    /// In the client's words, e.g. "too close to the road".
    #[oai(validator(max_length = 1000))]
    reason: Option<String>,
}

#[derive(ApiResponse)]
enum FeedbackCreated {
    #[oai(status = 201)]
    Feedback(Json<Feedback>),
}

pub struct MatchingApi;

#[OpenApi(prefix_path = "/matching", tag = "ApiTags::Matching")]
impl MatchingApi {
    /// The clients most likely to buy a listing, with why, what to show them and how to reach out.
    #[oai(path = "/property-to-clients", method = "post")]
    async fn property_to_clients(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<PropertyToClients>,
        /// Repeating a request with the same key answers with the run the first one created.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Accepted, ApiError> {
        let caller = &auth.0;
        state
            .store
            .get_property(caller.brokerage_id, body.property_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("property {}", body.property_id)))?;
        let params = params(caller, &body.options);
        submit(
            &state,
            caller,
            MatchDirection::PropertyToClients,
            body.property_id,
            params,
            idempotency_key.0,
        )
        .await
    }

    /// The listings that fit a client best.
    #[oai(path = "/client-to-properties", method = "post")]
    async fn client_to_properties(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<ClientToProperties>,
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        idempotency_key: Header<Option<String>>,
    ) -> Result<Accepted, ApiError> {
        let caller = &auth.0;
        visible(&state, caller, body.persona_id).await?;
        let params = params(caller, &body.options);
        submit(
            &state,
            caller,
            MatchDirection::ClientToProperties,
            body.persona_id,
            params,
            idempotency_key.0,
        )
        .await
    }

    /// The brokerage's match runs, newest first: the nightly ones (`direction=nightly`) carry
    /// the new matches of each night.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        direction: Query<Option<MatchDirection>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Page size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<MatchRunPage>, ApiError> {
        let limit = pagination::page_size(limit.0, 20);
        let before = pagination::cursor(cursor.0)?;
        let mut items = state
            .store
            .list_match_runs(&auth.0, direction.0, before, limit + 1)
            .await?;
        let next_cursor = pagination::next_cursor(&mut items, limit, |r| r.id);
        Ok(Json(MatchRunPage { items, next_cursor }))
    }

    /// A match run's status.
    #[oai(path = "/:id", method = "get")]
    async fn status(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<MatchRun>, ApiError> {
        run(&state, &auth.0, id.0).await.map(Json)
    }

    /// A run's ranked recommendations (empty until it completes).
    #[oai(path = "/:id/recommendations", method = "get")]
    async fn recommendations(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<Recommendations>, ApiError> {
        let run = run(&state, &auth.0, id.0).await?;
        let recommendations = state.store.recommendations(&auth.0, run.id).await?;
        let near_misses = state.store.near_misses(&auth.0, run.id).await?;
        let read = recommendations.iter().chain(&near_misses);
        audit_recommendations_read(&state, &auth.0, run.id, read, ReadVia::Api).await?;
        Ok(Json(Recommendations {
            run,
            recommendations,
            near_misses,
        }))
    }

    /// What came of a recommendation. It is kept with the recommendation, recorded in the
    /// client's persona as an enrichment source, and weighs on later rankings: a client's "not
    /// interested" removes the listing from their matches and counts against listings like it.
    #[oai(path = "/recommendations/:id/feedback", method = "post")]
    async fn feedback(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        body: Json<FeedbackIn>,
    ) -> Result<FeedbackCreated, ApiError> {
        state
            .store
            .add_match_feedback(&auth.0, id.0, body.outcome, body.reason.as_deref())
            .await?
            .map(|feedback| FeedbackCreated::Feedback(Json(feedback)))
            .ok_or_else(|| ApiError::NotFound(format!("recommendation {}", id.0)))
    }
}

fn params(caller: &Principal, options: &MatchOptions) -> MatchParams {
    MatchParams {
        limit: options.limit,
        min_score: options.min_score,
        rerank: options.rerank,
        caller: Some(MatchCaller {
            user_id: caller.user_id,
            team_id: caller.team_id,
        }),
    }
}

async fn run(state: &ApiState, caller: &Principal, id: Uuid) -> Result<MatchRun, ApiError> {
    state
        .store
        .match_run_for(caller, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("match run {id}")))
}

async fn submit(
    state: &ApiState,
    caller: &Principal,
    direction: MatchDirection,
    subject: Uuid,
    params: MatchParams,
    idempotency_key: Option<String>,
) -> Result<Accepted, ApiError> {
    let run = queue_run(state, caller, direction, subject, params, idempotency_key).await?;
    Ok(accepted(&run))
}

/// The caller's matching defaults (10 recommendations scoring 0.3 or more, no re-ranking).
pub(crate) fn default_params(caller: &Principal) -> MatchParams {
    let options = MatchOptions {
        limit: default_limit(),
        min_score: default_min_score(),
        rerank: false,
    };
    params(caller, &options)
}

/// Stores a match run (or finds the one an earlier request with this key made) and queues it.
pub(crate) async fn queue_run(
    state: &ApiState,
    caller: &Principal,
    direction: MatchDirection,
    subject: Uuid,
    params: MatchParams,
    idempotency_key: Option<String>,
) -> Result<MatchRun, ApiError> {
    let idempotency = idempotency_key.map(|key| {
        let fingerprint = (
            direction.as_str(),
            subject,
            params.limit,
            params.min_score,
            params.rerank,
        );
        (key, request_hash(&fingerprint), state.idempotency_ttl)
    });
    let submitted = state
        .store
        .submit_match_run(caller, direction, subject, &params, idempotency.as_ref())
        .await?;
    match submitted {
        Submitted::Created(run, request) => {
            let job = MatchingJob::for_run(caller.brokerage_id, run.id);
            state.queues.matching.push_after_commit(job, request).await;
            Ok(run)
        }
        Submitted::Replayed(run) => Ok(run),
        Submitted::KeyReused => Err(ApiError::IdempotencyKeyReused),
        Submitted::AtCapacity(active) => Err(ApiError::at_capacity(active, "match runs")),
    }
}

fn accepted(run: &MatchRun) -> Accepted {
    let status_url = format!("/api/v1/matching/{}", run.id);
    Accepted::Run(
        Json(MatchAccepted {
            id: run.id,
            recommendations_url: format!("{status_url}/recommendations"),
            status_url: status_url.clone(),
        }),
        status_url,
    )
}
