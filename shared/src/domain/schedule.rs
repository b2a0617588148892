//! Simulations run again on a schedule.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::SimulationKind;

/// A simulation request submitted at every slot of a cron expression, as its author.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Schedule {
    pub id: Uuid,
    pub name: String,
    pub kind: SimulationKind,
    /// The request, as `POST /simulations/{kind}` takes it.
    pub request: Value,
    /// When, in UTC: seconds, minutes, hours, day of month, month, day of week (`0 0 9 * * Mon`:
    /// Mondays at 09:00).
    pub cron: String,
    pub enabled: bool,
    /// Whose request it is: each run is submitted as them, seeing what they see.
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One slot of a schedule: the simulation it submitted, or why it could not.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ScheduleRun {
    pub slot: DateTime<Utc>,
    pub simulation_id: Option<Uuid>,
    pub error: Option<String>,
    pub fired_at: DateTime<Utc>,
}
