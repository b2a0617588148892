//! `/api/v1/outcomes` and `/api/v1/accuracy`: what really happened after a simulation, and how
//! well simulations predicted it.

use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use troupe_shared::{
    accuracy::{self, AccuracyQuery},
    auth::{Admin, Principal},
    domain::{
        AccuracyKind, AccuracyReport, CalibrationFit, Calibrations, Outcome, OutcomeBatch,
        OutcomeFilter, OutcomeIn, OutcomeKind,
    },
    store::{AuditRecord, Fault, Recorded, Rejection},
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags,
    audit::{Listed, ReadVia, audit_listed},
    auth::{ApiKey, require_admin},
    contract::Violation,
    pagination,
    problem::ApiError,
};

#[derive(ApiResponse)]
enum RecordedOne {
    /// Recorded.
    #[oai(status = 201)]
    Created(Json<Outcome>, #[oai(header = "Location")] String),
    /// Its external id was recorded before with the same fields: what was recorded then.
    #[oai(status = 200)]
    Replayed(Json<Outcome>, #[oai(header = "Location")] String),
}

#[derive(Object)]
struct RecordedBatch {
    /// In the request's order.
    outcomes: Vec<Outcome>,
    /// How many this request recorded; the rest were recorded before under their external ids.
    created: u64,
}

#[derive(ApiResponse)]
enum RecordedMany {
    /// Recorded (some perhaps before, under their external ids).
    #[oai(status = 201)]
    Created(Json<RecordedBatch>),
    /// Every one was recorded before under its external id.
    #[oai(status = 200)]
    Replayed(Json<RecordedBatch>),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct OutcomePage {
    items: Vec<Outcome>,
    next_cursor: Option<String>,
}

pub struct OutcomesApi;

#[OpenApi(tag = "ApiTags::Outcomes")]
impl OutcomesApi {
    /// Record what happened: a showing, an offer, a sale, a tested campaign's counts, a client's
    /// answer to a tested sequence, or how a scenario went. It is checked against what it names
    /// (a 422 says what is wrong); with an `external_id` a repeat returns what was recorded.
    #[oai(path = "/outcomes", method = "post")]
    async fn record(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<OutcomeIn>,
    ) -> Result<RecordedOne, ApiError> {
        let mut recorded = record(&state, &auth.0, std::slice::from_ref(&body.0), "").await?;
        let Recorded { outcome, replayed } = recorded.remove(0);
        let location = format!("/api/v1/outcomes/{}", outcome.id);
        Ok(if replayed {
            RecordedOne::Replayed(Json(outcome), location)
        } else {
            RecordedOne::Created(Json(outcome), location)
        })
    }

    /// Record up to 1,000 outcomes at once (an import, a flow's batch): all of them, or — one
    /// being wrong — none, with every fault named by its position.
    #[oai(path = "/outcomes/batch", method = "post")]
    async fn record_batch(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<OutcomeBatch>,
    ) -> Result<RecordedMany, ApiError> {
        let recorded = record(&state, &auth.0, &body.0.outcomes, "/outcomes").await?;
        let created = recorded.iter().filter(|r| !r.replayed).count() as u64;
        let batch = RecordedBatch {
            outcomes: recorded.into_iter().map(|r| r.outcome).collect(),
            created,
        };
        Ok(if created == 0 {
            RecordedMany::Replayed(Json(batch))
        } else {
            RecordedMany::Created(Json(batch))
        })
    }

    /// Recorded outcomes the caller may see (those about a client they may see, or a simulation
    /// they may see), newest first.
    #[oai(path = "/outcomes", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        #[oai(name = "type")] kind: Query<Option<OutcomeKind>>,
        property_id: Query<Option<Uuid>>,
        persona_id: Query<Option<Uuid>>,
        simulation_id: Query<Option<Uuid>>,
        /// Happened on or after this day.
        since: Query<Option<NaiveDate>>,
        cursor: Query<Option<String>>,
        /// 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<OutcomePage>, ApiError> {
        let size = pagination::page_size(limit.0, 50);
        let filter = OutcomeFilter {
            kind: kind.0,
            property_id: property_id.0,
            persona_id: persona_id.0,
            simulation_id: simulation_id.0,
            since: since.0,
            before: pagination::cursor(cursor.0)?,
            limit: size,
        };
        let mut items = state.store.list_outcomes(&auth.0, &filter).await?;
        let next_cursor = pagination::next_cursor(&mut items, size, |o| o.id);
        let listed = items.iter().map(|o| o.id);
        audit_listed(&state, &auth.0, Listed::Outcomes, listed, ReadVia::Api).await?;
        Ok(Json(OutcomePage { items, next_cursor }))
    }

    /// One recorded outcome.
    #[oai(path = "/outcomes/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<Outcome>, ApiError> {
        let outcome = state
            .store
            .outcome(&auth.0, id.0)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("outcome {}", id.0)))?;
        // What a client said at a showing, or offered, is read as surely as their profile.
        let record = AuditRecord {
            action: "outcome.read",
            subject_type: "outcome",
            subject_id: outcome.id,
            detail: serde_json::json!({}),
        };
        state.store.audit(&auth.0, record).await?;
        Ok(Json(outcome))
    }

    /// How well simulations predicted what happened, per kind and per provider and model, over
    /// the outcomes the caller may see: correlations, calibration (with a held-out isotonic
    /// recalibration once there are enough outcomes), rate errors, whether what was ranked best
    /// did best, and precision@k of match recommendations.
    #[oai(path = "/accuracy", method = "get")]
    async fn accuracy(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        kind: Query<Option<AccuracyKind>>,
        /// Predictions made at or after this instant (RFC 3339).
        since: Query<Option<DateTime<Utc>>>,
        /// A model, as results' `metadata.model_version` names it.
        #[oai(validator(min_length = 1, max_length = 200))]
        model: Query<Option<String>>,
    ) -> Result<Json<AccuracyReport>, ApiError> {
        let query = AccuracyQuery {
            kind: kind.0,
            since: since.0,
            model: model.0,
            calibration_min: state.accuracy_calibration_min,
        };
        Ok(Json(accuracy_report(&state, &auth.0, &query).await?.0))
    }

    /// The brokerage's calibrations in force: per kind, provider and model, the latest isotonic
    /// map fitted on all its outcomes (nightly, at `TROUPE_MATCHING_CRON`), how it did on
    /// held-out outcomes, and whether results apply it.
    #[oai(path = "/accuracy/calibrations", method = "get")]
    async fn calibrations(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
    ) -> Result<Json<Calibrations>, ApiError> {
        Ok(Json(Calibrations {
            items: state.store.calibrations(auth.0.brokerage_id).await?,
            min_trials: state.accuracy_calibration_min,
        }))
    }

    /// Refit the brokerage's calibrations now, on every outcome recorded so far, rather than
    /// waiting for the night (brokerage admins): after an import, say.
    #[oai(path = "/accuracy/calibrations", method = "post")]
    async fn refit(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
    ) -> Result<Json<Calibrations>, ApiError> {
        let caller = require_admin(&auth.0, "refit calibrations")?;
        Ok(Json(refit_calibrations(&state, caller).await?))
    }
}

/// Refits the caller's brokerage's calibrations and audits who asked (the workspace does the
/// same).
pub(crate) async fn refit_calibrations(
    state: &ApiState,
    caller: Admin<'_>,
) -> Result<Calibrations, ApiError> {
    let items = state
        .store
        .refit_calibrations(
            caller.brokerage_id,
            Utc::now(),
            state.accuracy_calibration_min,
        )
        .await?;
    let audited = AuditRecord {
        action: "calibration.refit",
        subject_type: "brokerage",
        subject_id: caller.brokerage_id,
        detail: serde_json::json!({ "in_force": items.len() }),
    };
    state.store.audit(&caller, audited).await?;
    Ok(Calibrations {
        items,
        min_trials: state.accuracy_calibration_min,
    })
}

/// Records outcomes as `caller`, a refusal in the API's words (the workspace's form uses it).
pub(crate) async fn record(
    state: &ApiState,
    caller: &Principal,
    outcomes: &[OutcomeIn],
    pointer_base: &str,
) -> Result<Vec<Recorded>, ApiError> {
    match state.store.record_outcomes(caller, outcomes).await? {
        Ok(recorded) => Ok(recorded),
        Err(rejections) => Err(refusal(rejections, pointer_base)),
    }
}

/// A 404 when an outcome names a listing, client or simulation the caller cannot see (as for an
/// id that exists nowhere, and before anything else is said of it); a 409 when an external id
/// names another outcome; else a 422 naming each fault.
fn refusal(rejections: Vec<Rejection>, pointer_base: &str) -> ApiError {
    let at = |r: &Rejection| {
        if pointer_base.is_empty() {
            format!("/{}", r.field)
        } else {
            format!("{pointer_base}/{}/{}", r.index, r.field)
        }
    };
    let unknown: Vec<String> = rejections
        .iter()
        .filter(|r| r.fault == Fault::Unknown)
        .map(|r| format!("{} (`{}`)", r.detail, at(r)))
        .collect();
    if !unknown.is_empty() {
        return ApiError::NotFound(unknown.join(" and "));
    }
    if let Some(conflict) = rejections.iter().find(|r| r.fault == Fault::Conflict) {
        return ApiError::Conflict(conflict.detail.clone());
    }
    ApiError::BrokenRule(
        rejections
            .iter()
            .map(|r| Violation {
                pointer: at(r),
                detail: r.detail.clone(),
            })
            .collect(),
    )
}

/// The report over what the caller may see, and the brokerage's calibrations in force that it
/// names (the web workspace shows both).
pub(crate) async fn accuracy_report(
    state: &ApiState,
    caller: &Principal,
    query: &AccuracyQuery,
) -> Result<(AccuracyReport, Vec<CalibrationFit>), ApiError> {
    let inputs = state.store.accuracy_inputs(caller, query).await?;
    let mut groups = accuracy::report(&inputs, query);
    let stored = state.store.calibrations(caller.brokerage_id).await?;
    for group in &mut groups {
        group.stored_calibration = stored
            .iter()
            .find(|c| {
                c.kind == group.kind && c.provider == group.provider && c.model == group.model
            })
            .cloned();
    }
    let report = AccuracyReport {
        generated_at: Utc::now(),
        since: query.since,
        groups,
        notes: NOTES.iter().map(|n| (*n).to_owned()).collect(),
    };
    Ok((report, stored))
}

const NOTES: &[&str] = &[
    "An outcome counts against a prediction only if it happened on or after the day the prediction was made.",
    "Groups whose provider is `offline` measure the rule-based persona model: a baseline to beat, not a forecast.",
    "Intervals are 95%: Fisher z for correlations, Wilson for shares, normal approximations for the Brier score and mean errors (campaign recipients are counted as independent trials).",
    "held_out fits an isotonic calibration on the older 70% of a group's trials and scores the newer 30% with and without it.",
    "stored_calibration is fitted on all of the brokerage's outcomes (nightly, or when an admin asks); results show figures through it only when it is `applied`.",
];
