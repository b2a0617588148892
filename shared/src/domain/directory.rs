//! The brokerage's people: teams, users and their API keys, as admins manage them.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Role;

#[derive(Debug, Clone, Serialize, Deserialize, Object, sqlx::FromRow)]
#[oai(skip_serializing_if_is_none)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub team_id: Option<Uuid>,
    /// A deactivated user's keys stop working at once; their personas wait for reassignment.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    /// What they sign in to the web workspace with, once invited.
    pub email: Option<String>,
    /// Whether they have set a password (accepted an invitation).
    pub can_sign_in: bool,
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, Object, sqlx::FromRow)]
#[oai(skip_serializing_if_is_none)]
pub struct ApiKeyInfo {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}
