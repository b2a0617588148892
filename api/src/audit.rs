//! `/api/v1/audit`: the brokerage's audit log, newest first, for its admins.

use std::time::Duration;
use troupe_shared::causes::Causes;

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use troupe_shared::{
    Store,
    auth::Principal,
    store::{AuditEntry, AuditFilter, AuditRecord},
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags,
    auth::{ApiKey, require_admin},
    pagination,
    problem::ApiError,
};

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AuditPage {
    items: Vec<AuditEntry>,
    /// Pass as `cursor` for older entries; absent on the last page.
    next_cursor: Option<String>,
}

/// How often the API chains the reads it staged.
const CHAIN_INTERVAL: Duration = Duration::from_millis(500);

/// Until `shutdown` (and once more then), chains staged reads into the brokerages' hash chains,
/// so a read is in its chain within about a second of being made.
pub async fn chain_reads(store: Store, shutdown: CancellationToken) {
    loop {
        let stopping = tokio::select! {
            _ = shutdown.cancelled() => true,
            _ = tokio::time::sleep(CHAIN_INTERVAL) => false,
        };
        if let Err(e) = store.chain_staged_reads().await {
            tracing::warn!(error = %Causes(&e), "could not chain staged reads; retrying");
        }
        if stopping {
            return;
        }
    }
}

/// Where a read of client data came from, as its audit entry records it: the API's entries carry
/// no tag; the workspace's carry `"via": "web"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadVia {
    Api,
    Web,
}

impl ReadVia {
    /// `detail` with this origin's tag.
    pub(crate) fn tag(self, mut detail: serde_json::Value) -> serde_json::Value {
        if self == ReadVia::Web {
            detail["via"] = "web".into();
        }
        detail
    }
}

/// What a list showed: clients, simulations (which runs, about whom) or outcomes (what clients
/// said at showings, their offers).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Listed {
    Personas,
    Simulations,
    Outcomes,
}

impl Listed {
    /// The entry's action, and the detail's key for the ids.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Listed::Personas => ("persona.listed", "persona_ids"),
            Listed::Simulations => ("simulation.listed", "simulation_ids"),
            Listed::Outcomes => ("outcome.listed", "outcome_ids"),
        }
    }
}

/// A list shows records as surely as a read does: one audit entry names every id returned (the
/// subject is the caller, who read them); an empty page records nothing.
pub(crate) async fn audit_listed(
    state: &ApiState,
    caller: &Principal,
    what: Listed,
    listed: impl IntoIterator<Item = Uuid>,
    via: ReadVia,
) -> Result<(), ApiError> {
    let ids: Vec<Uuid> = listed.into_iter().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let (action, key) = what.names();
    let record = AuditRecord {
        action,
        subject_type: "user",
        subject_id: caller.user_id,
        detail: via.tag(json!({ key: ids })),
    };
    Ok(state.store.audit(caller, record).await?)
}

pub struct AuditApi;

#[OpenApi(tag = "ApiTags::Audit")]
impl AuditApi {
    /// Who read, created, changed or deleted which persona, with which key, when; each entry
    /// carries its hash and its predecessor's (`troupe audit verify` checks the chain).
    #[oai(path = "/audit", method = "get")]
    // Each query parameter is an argument of its own for poem-openapi to document it.
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        /// Only this user's actions.
        actor_id: Query<Option<Uuid>>,
        /// Only entries about this persona.
        subject_id: Query<Option<Uuid>>,
        /// Only this action, e.g. `persona.read`.
        action: Query<Option<String>>,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> Result<Json<AuditPage>, ApiError> {
        let admin = require_admin(&auth.0, "read the audit log")?;
        let size = pagination::page_size(limit.0, 50);
        let before = cursor
            .0
            .map(|c| {
                // Entries are numbered from 1: anything else was not issued here.
                c.parse::<i64>()
                    .ok()
                    .filter(|seq| *seq > 0)
                    .ok_or_else(|| ApiError::Validation("cursor is not one this API issued".into()))
            })
            .transpose()?;
        let filter = AuditFilter {
            actor_id: actor_id.0,
            subject_id: subject_id.0,
            action: action.0,
            before,
        };
        let mut items = state.store.audit_entries(admin, &filter, size).await?;
        let next_cursor = (items.len() > size as usize).then(|| {
            items.truncate(size as usize);
            items.last().map(|e| e.seq.to_string())
        });
        Ok(Json(AuditPage {
            items,
            next_cursor: next_cursor.flatten(),
        }))
    }
}
