//! `/api/v1/schedules`: a simulation request run again at every slot of a cron expression (a
//! weekly focus group on the new listings' segment, a monthly outreach test), submitted as the
//! person who made the schedule and seeing what they see then. The scheduler role fires the
//! slots ([`ScheduledSimulations::fire_due`]); each slot runs once whichever replica fires it.

use std::{str::FromStr, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use serde_json::Value;
use troupe_shared::{
    auth::Principal,
    domain::{Schedule, ScheduleRun, SimulationKind},
    store::{NewSchedule, SchedulePatch},
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags,
    auth::ApiKey,
    contract::{Contract, Violation},
    problem::ApiError,
    simulations::{plan_stored, submit_once},
};

/// How far back a slot missed while no scheduler ran is still fired (the latest one only).
const CATCH_UP: Duration = Duration::days(7);
/// Slots shown with a schedule.
const RUNS_SHOWN: u32 = 20;

fn yes() -> bool {
    true
}

/// A new schedule.
#[derive(Object)]
struct ScheduleIn {
    #[oai(validator(min_length = 1, max_length = 200))]
    name: String,
    kind: SimulationKind,
    /// The body `POST /simulations/{kind}` takes, checked and planned now as it will be at each
    /// slot. An individual run's `enrichment_data` cannot be kept in a schedule: enrich the
    /// persona instead.
    request: Value,
    /// When, in UTC, with seconds first: `0 0 9 * * Mon` is Mondays at 09:00. A schedule fires
    /// at most once per scheduler tick (10 seconds).
    #[oai(validator(min_length = 1, max_length = 100))]
    cron: String,
    #[oai(default = "yes")]
    enabled: bool,
}

/// Changes to a schedule; members left out stay as they are.
#[derive(Object)]
struct ScheduleChange {
    #[oai(validator(min_length = 1, max_length = 200))]
    name: Option<String>,
    #[oai(validator(min_length = 1, max_length = 100))]
    cron: Option<String>,
    enabled: Option<bool>,
}

/// A schedule, when it fires next and what its latest slots did.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ScheduleOut {
    #[oai(flatten)]
    schedule: Schedule,
    /// The next slot (absent when disabled).
    next_run_at: Option<DateTime<Utc>>,
    /// The latest slots, newest first: the simulation each submitted, or why it could not.
    #[oai(default, skip_serializing_if_is_empty)]
    runs: Vec<ScheduleRun>,
}

#[derive(Object)]
struct ScheduleList {
    items: Vec<ScheduleOut>,
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Schedule(Json<ScheduleOut>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
enum Deleted {
    #[oai(status = 204)]
    Gone,
}

/// The cron expression, read as the scheduler reads it.
fn parse_cron(text: &str, pointer: &str) -> Result<cron::Schedule, ApiError> {
    cron::Schedule::from_str(text.trim()).map_err(|e| {
        ApiError::BrokenRule(vec![Violation {
            pointer: pointer.into(),
            detail: format!(
                "`{pointer}` {text:?} is not a cron expression ({e}): six fields, seconds first, \
                 in UTC — `0 0 9 * * Mon` is Mondays at 09:00"
            ),
        }])
    })
}

fn out(schedule: Schedule, runs: Vec<ScheduleRun>) -> ScheduleOut {
    let next_run_at = schedule
        .enabled
        .then(|| parse_cron(&schedule.cron, "/cron").ok())
        .flatten()
        .and_then(|cron| cron.upcoming(Utc).next());
    ScheduleOut {
        schedule,
        next_run_at,
        runs,
    }
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("schedule {id}"))
}

pub struct SchedulesApi;

#[OpenApi(prefix_path = "/schedules", tag = "ApiTags::Simulations")]
impl SchedulesApi {
    /// Run a simulation again on a schedule. The request is checked and planned now, as its
    /// endpoint would; each slot then submits it as you (`simulation.scheduled`, then the usual
    /// events). Yours to see and change, and your brokerage admins'.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<ScheduleIn>,
        contract: Data<&Arc<Contract>>,
    ) -> Result<Created, ApiError> {
        let ScheduleIn {
            name,
            kind,
            request,
            cron,
            enabled,
        } = body.0;
        parse_cron(&cron, "/cron")?;
        if request.get("enrichment_data").is_some_and(|d| !d.is_null()) {
            return Err(ApiError::BrokenRule(vec![Violation {
                pointer: "/request/enrichment_data".into(),
                detail:
                    "`/request/enrichment_data` cannot be kept in a schedule: notes are sealed \
                         with the one run they are for. Enrich the persona instead"
                        .into(),
            }]));
        }
        // Planned once now, so a mistake is told today rather than at the first slot.
        plan_stored(&state, &auth.0, &contract, kind, &request).await?;
        let new = NewSchedule {
            name,
            kind,
            request,
            cron: cron.trim().to_owned(),
            enabled,
        };
        let schedule = state.store.create_schedule(&auth.0, new).await?;
        let location = format!("/api/v1/schedules/{}", schedule.id);
        Ok(Created::Schedule(Json(out(schedule, Vec::new())), location))
    }

    /// Your schedules (all of the brokerage's for an admin), oldest first.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
    ) -> Result<Json<ScheduleList>, ApiError> {
        let items = state
            .store
            .list_schedules(&auth.0)
            .await?
            .into_iter()
            .map(|s| out(s, Vec::new()))
            .collect();
        Ok(Json(ScheduleList { items }))
    }

    /// A schedule, with its latest slots.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<ScheduleOut>, ApiError> {
        let schedule = state
            .store
            .schedule(&auth.0, id.0)
            .await?
            .ok_or_else(|| not_found(id.0))?;
        let runs = state.store.schedule_runs(schedule.id, RUNS_SHOWN).await?;
        Ok(Json(out(schedule, runs)))
    }

    /// Rename, retime, pause (`enabled: false`) or resume a schedule.
    #[oai(path = "/:id", method = "patch")]
    async fn update(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        body: Json<ScheduleChange>,
    ) -> Result<Json<ScheduleOut>, ApiError> {
        let ScheduleChange {
            name,
            cron,
            enabled,
        } = body.0;
        if let Some(cron) = &cron {
            parse_cron(cron, "/cron")?;
        }
        let patch = SchedulePatch {
            name,
            cron: cron.map(|c| c.trim().to_owned()),
            enabled,
        };
        let schedule = state
            .store
            .update_schedule(&auth.0, id.0, patch)
            .await?
            .ok_or_else(|| not_found(id.0))?;
        let runs = state.store.schedule_runs(schedule.id, RUNS_SHOWN).await?;
        Ok(Json(out(schedule, runs)))
    }

    /// Delete a schedule (the simulations it ran stay).
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Deleted, ApiError> {
        if state.store.delete_schedule(&auth.0, id.0).await? {
            Ok(Deleted::Gone)
        } else {
            Err(not_found(id.0))
        }
    }
}

/// What the scheduler role fires schedules with: the API's state and its published contract,
/// so a stored request is checked and planned exactly as the endpoint would.
#[derive(Clone)]
pub struct ScheduledSimulations {
    state: ApiState,
    contract: Arc<Contract>,
}

impl ScheduledSimulations {
    pub fn new(state: ApiState, config: &troupe_shared::Config) -> Self {
        ScheduledSimulations {
            state,
            contract: crate::contract_for(config),
        }
    }

    /// Fires every enabled schedule's latest slot at or before `now` (within a week, and after
    /// the schedule was made) that no replica has fired yet; returns how many slots it recorded.
    /// A slot that cannot be submitted (its author left, a client it names is gone) is recorded
    /// with why; an outage leaves it for the next tick.
    pub async fn fire_due(&self, now: DateTime<Utc>) -> Result<u32, ApiError> {
        let store = &self.state.store;
        let mut fired = 0;
        for (brokerage_id, schedule) in store.enabled_schedules().await? {
            let Ok(cron) = parse_cron(&schedule.cron, "/cron") else {
                continue;
            };
            let since = schedule.created_at.max(now - CATCH_UP);
            let Some(slot) = cron.after(&since).take_while(|slot| *slot <= now).last() else {
                continue;
            };
            if store.schedule_fired(schedule.id, slot).await? {
                continue;
            }
            let outcome = match self.submit(brokerage_id, &schedule, slot).await {
                Ok(simulation) => Ok(simulation),
                Err(e @ (ApiError::Internal(_) | ApiError::Unavailable(_))) => return Err(e),
                Err(refused) => Err(refused.to_string()),
            };
            if let Err(why) = &outcome {
                tracing::warn!(schedule = %schedule.id, %slot, why, "a scheduled simulation was not submitted");
            }
            if store
                .record_schedule_run(brokerage_id, schedule.id, slot, outcome)
                .await?
            {
                fired += 1;
            }
        }
        Ok(fired)
    }

    /// The slot's simulation, submitted as the schedule's author: once per slot, however many
    /// replicas submit it.
    async fn submit(
        &self,
        brokerage_id: Uuid,
        schedule: &Schedule,
        slot: DateTime<Utc>,
    ) -> Result<Uuid, ApiError> {
        let author: Principal = self
            .state
            .store
            .principal_for_user(brokerage_id, schedule.created_by, schedule.id)
            .await?
            .ok_or_else(|| {
                ApiError::Forbidden(
                    "the schedule's author is no longer active: an admin can delete the schedule, \
                     or a colleague make it again"
                        .into(),
                )
            })?;
        let plan = plan_stored(
            &self.state,
            &author,
            &self.contract,
            schedule.kind,
            &schedule.request,
        )
        .await?;
        let key = format!("schedule:{}:{}", schedule.id, slot.to_rfc3339());
        Ok(submit_once(&self.state, &author, plan, key).await?.id)
    }
}
