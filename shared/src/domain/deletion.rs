//! Deleting clients: who may, and the deleted clients an admin can still restore.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Visibility;

text_enum! {
    /// Who may delete a client shared with a team or the brokerage (a private client is always
    /// its owner's to delete): a brokerage's choice, since such a client is knowledge the
    /// brokerage holds rather than one agent's notes.
    pub enum DeletionPolicy {
        /// The client's owner, as well as team leads and admins who see them.
        Owner => "owner",
        /// Only a team lead of the client's team, or an admin (the default).
        LeadOrAdmin => "lead_or_admin",
    }
}

/// How long a deleted client can be restored before they are erased for good.
pub const RESTORE_WINDOW: chrono::Duration = chrono::Duration::days(30);

/// A deleted client waiting for erasure, as an admin sees the list: the name only of a client
/// the admin could see before, so the list never reveals another agent's private client.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DeletedPersona {
    pub id: Uuid,
    /// Absent for a client the admin could not see (private to its owner, or their team's).
    pub name: Option<String>,
    pub visibility: Visibility,
    /// The agent who owned them.
    pub agent_id: Uuid,
    pub team_id: Option<Uuid>,
    /// Who deleted them.
    pub deleted_by: Option<Uuid>,
    pub deleted_at: DateTime<Utc>,
    /// When they are erased unless restored first.
    pub erase_after: DateTime<Utc>,
}
