//! Schedules (a simulation request and a cron expression) and the slots they fired. A schedule
//! is its author's: they and the brokerage's admins see and change it.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    AuditRecord, BeginWrite, Store, StoreResult, audit::record_audit, events::record_event,
    parse_column, with_pool,
};
use crate::{
    auth::Principal,
    domain::{Schedule, ScheduleRun, SimulationKind},
};

macro_rules! columns {
    () => {
        "id, brokerage_id, created_by, name, kind, request, cron, enabled, created_at, updated_at"
    };
}

/// The schedules the caller at `$1` (brokerage), `$2` (user) and `$3` (role) may see and change:
/// their own, or all of the brokerage's for an admin.
macro_rules! theirs {
    () => {
        "brokerage_id = $1 AND (created_by = $2 OR $3 = 'brokerage_admin')"
    };
}

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: Uuid,
    brokerage_id: Uuid,
    created_by: Uuid,
    name: String,
    kind: String,
    request: Json<Value>,
    cron: String,
    enabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl ScheduleRow {
    fn into_schedule(self) -> StoreResult<(Uuid, Schedule)> {
        let schedule = Schedule {
            id: self.id,
            name: self.name,
            kind: parse_column(&self.kind, SimulationKind::parse, "schedules.kind")?,
            request: self.request.0,
            cron: self.cron,
            enabled: self.enabled,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        Ok((self.brokerage_id, schedule))
    }
}

#[derive(sqlx::FromRow)]
struct RunRow {
    slot: DateTime<Utc>,
    simulation_id: Option<Uuid>,
    error: Option<String>,
    fired_at: DateTime<Utc>,
}

/// What a new schedule holds (the API has checked each part).
pub struct NewSchedule {
    pub name: String,
    pub kind: SimulationKind,
    pub request: Value,
    pub cron: String,
    pub enabled: bool,
}

/// The parts of a schedule that change; `None` keeps one as it is.
#[derive(Default)]
pub struct SchedulePatch {
    pub name: Option<String>,
    pub cron: Option<String>,
    pub enabled: Option<bool>,
}

impl Store {
    pub async fn create_schedule(
        &self,
        caller: &Principal,
        new: NewSchedule,
    ) -> StoreResult<Schedule> {
        let now = Utc::now();
        let row: ScheduleRow = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row: ScheduleRow = sqlx::query_as(concat!(
                "INSERT INTO schedules (", columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING ", columns!()))
                .bind(Uuid::now_v7()).bind(caller.brokerage_id).bind(caller.user_id)
                .bind(&new.name).bind(new.kind.as_str()).bind(Json(&new.request))
                .bind(&new.cron).bind(new.enabled).bind(now)
                .fetch_one(&mut *tx).await?;
            let detail = serde_json::json!({ "name": new.name, "kind": new.kind, "cron": new.cron });
            record_audit!(tx, caller, AuditRecord::schedule("schedule.created", row.id, detail))?;
            tx.commit().await?;
            row
        });
        Ok(row.into_schedule()?.1)
    }

    pub async fn schedule(&self, caller: &Principal, id: Uuid) -> StoreResult<Option<Schedule>> {
        let row: Option<ScheduleRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM schedules WHERE ", theirs!(), " AND id = $4"))
                .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.role.as_str()).bind(id)
                .fetch_optional(pool).await
        })?;
        row.map(|r| r.into_schedule().map(|(_, s)| s)).transpose()
    }

    pub async fn list_schedules(&self, caller: &Principal) -> StoreResult<Vec<Schedule>> {
        let rows: Vec<ScheduleRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM schedules WHERE ", theirs!(), " ORDER BY id"))
                .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.role.as_str())
                .fetch_all(pool).await
        })?;
        rows.into_iter()
            .map(|r| r.into_schedule().map(|(_, s)| s))
            .collect()
    }

    pub async fn update_schedule(
        &self,
        caller: &Principal,
        id: Uuid,
        patch: SchedulePatch,
    ) -> StoreResult<Option<Schedule>> {
        let row: Option<ScheduleRow> = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<ScheduleRow> = sqlx::query_as(concat!(
                "UPDATE schedules SET name = COALESCE($5, name), cron = COALESCE($6, cron),
                    enabled = COALESCE($7, enabled), updated_at = $8
                 WHERE ", theirs!(), " AND id = $4 RETURNING ", columns!()))
                .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.role.as_str()).bind(id)
                .bind(&patch.name).bind(&patch.cron).bind(patch.enabled).bind(Utc::now())
                .fetch_optional(&mut *tx).await?;
            if row.is_some() {
                let detail = serde_json::json!({ "name": patch.name, "cron": patch.cron, "enabled": patch.enabled });
                record_audit!(tx, caller, AuditRecord::schedule("schedule.updated", id, detail))?;
            }
            tx.commit().await?;
            row
        });
        row.map(|r| r.into_schedule().map(|(_, s)| s)).transpose()
    }

    pub async fn delete_schedule(&self, caller: &Principal, id: Uuid) -> StoreResult<bool> {
        Ok(with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let deleted = sqlx::query(concat!("DELETE FROM schedules WHERE ", theirs!(), " AND id = $4"))
                .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.role.as_str()).bind(id)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if deleted {
                record_audit!(tx, caller, AuditRecord::schedule("schedule.deleted", id, serde_json::json!({})))?;
            }
            tx.commit().await?;
            deleted
        }))
    }

    /// Every enabled schedule of every brokerage, with its brokerage: what the scheduler fires.
    pub async fn enabled_schedules(&self) -> StoreResult<Vec<(Uuid, Schedule)>> {
        let rows: Vec<ScheduleRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM schedules WHERE enabled ORDER BY id"))
                .fetch_all(pool).await
        })?;
        rows.into_iter().map(ScheduleRow::into_schedule).collect()
    }

    /// Whether the slot was fired already (by any scheduler replica).
    pub async fn schedule_fired(
        &self,
        schedule_id: Uuid,
        slot: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let found: Option<i32> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT 1 FROM schedule_runs WHERE schedule_id = $1 AND slot = $2")
                .bind(schedule_id).bind(slot)
                .fetch_optional(pool).await
        })?;
        Ok(found.is_some())
    }

    /// Records what a slot did: the simulation it submitted (announced as
    /// `simulation.scheduled`), or why it could not. `false` when the slot was recorded already.
    pub async fn record_schedule_run(
        &self,
        brokerage_id: Uuid,
        schedule_id: Uuid,
        slot: DateTime<Utc>,
        outcome: Result<Uuid, String>,
    ) -> StoreResult<bool> {
        let key = self.sealing_key().await?;
        let (simulation, error) = match &outcome {
            Ok(simulation) => (Some(*simulation), None),
            Err(error) => (None, Some(error.as_str())),
        };
        let notice = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO schedule_runs (schedule_id, brokerage_id, slot, simulation_id, error, fired_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (schedule_id, slot) DO NOTHING")
                .bind(schedule_id).bind(brokerage_id).bind(slot).bind(simulation).bind(error).bind(Utc::now())
                .execute(&mut *tx).await?.rows_affected() == 1;
            let notice = match (inserted, simulation) {
                (true, Some(simulation)) => {
                    let payload = serde_json::json!({
                        "schedule_id": schedule_id, "simulation_id": simulation, "slot": slot,
                    });
                    Some(record_event!(tx, &key, brokerage_id, "simulation.scheduled", simulation, &payload)?)
                }
                _ => None,
            };
            tx.commit().await?;
            (inserted, notice)
        });
        let (inserted, notice) = notice;
        if let Some(notice) = notice {
            self.announce(&[notice]).await;
        }
        Ok(inserted)
    }

    /// A schedule's latest slots, newest first.
    pub async fn schedule_runs(
        &self,
        schedule_id: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<ScheduleRun>> {
        let rows: Vec<RunRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT slot, simulation_id, error, fired_at FROM schedule_runs
                            WHERE schedule_id = $1 ORDER BY slot DESC LIMIT $2")
                .bind(schedule_id).bind(i64::from(limit))
                .fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|row| ScheduleRun {
                slot: row.slot,
                simulation_id: row.simulation_id,
                error: row.error,
                fired_at: row.fired_at,
            })
            .collect())
    }

    /// The active user `user_id` of brokerage `brokerage_id` as a caller, `key_id` standing where
    /// a key's id would (a schedule acting for its author names itself).
    pub async fn principal_for_user(
        &self,
        brokerage_id: Uuid,
        user_id: Uuid,
        key_id: Uuid,
    ) -> StoreResult<Option<Principal>> {
        Ok(self
            .get_user(brokerage_id, user_id)
            .await?
            .filter(|user| user.active)
            .map(|user| Principal {
                key_id,
                user_id,
                brokerage_id,
                team_id: user.team_id,
                role: user.role,
            }))
    }
}

impl AuditRecord<'_> {
    pub fn schedule(action: &'static str, schedule_id: Uuid, detail: Value) -> Self {
        AuditRecord {
            action,
            subject_type: "schedule",
            subject_id: schedule_id,
            detail,
        }
    }
}
