//! Deleting clients: a deletion hides a client at once and erases them after the restore
//! window, an admin can restore them before that or erase them at once (an erasure request under
//! GDPR/CCPA), and the brokerage decides who may delete the clients it shares.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use troupe_shared::{
    auth::{Admin, Principal},
    domain::{DeletedPersona, DeletionPolicy, RESTORE_WINDOW, Visibility},
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags,
    auth::{ApiKey, require_admin},
    pagination,
    personas::visible,
    problem::ApiError,
};

/// Deletes a client the caller may delete (see [`Principal::may_delete_client`]): hidden from
/// everyone now, erased when the restore window closes. Returns when.
pub(crate) async fn delete_client(
    state: &ApiState,
    caller: &Principal,
    id: Uuid,
) -> Result<DateTime<Utc>, ApiError> {
    let client = visible(state, caller, id).await?;
    let policy = state.store.deletion_policy(caller.brokerage_id).await?;
    if !caller.may_delete_client(&client, policy) {
        return Err(ApiError::Forbidden(refusal(&client.visibility, policy)));
    }
    state
        .store
        .delete_persona(caller, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("persona {id}")))
}

/// Why a caller who sees a client may not delete them, and who may.
pub(crate) fn refusal(visibility: &Visibility, policy: DeletionPolicy) -> String {
    if *visibility != Visibility::Private && policy == DeletionPolicy::LeadOrAdmin {
        let days = RESTORE_WINDOW.num_days();
        return format!(
            "this brokerage keeps the deletion of shared clients for a team lead of the client's \
             team or an admin (setting `deletion: lead_or_admin`); ask one of them — a deleted \
             client can be restored for {days} days"
        );
    }
    "this client belongs to another agent; their agent, a team lead or an admin can delete them"
        .into()
}

/// Erases a client at once, for an admin (the store's erasure), and empties the shared response
/// cache.
pub(crate) async fn erase_client_now(
    state: &ApiState,
    admin: Admin<'_>,
    id: Uuid,
) -> Result<(), ApiError> {
    if !state.store.erase_persona_now(admin, id).await? {
        return Err(ApiError::NotFound(format!("persona {id}")));
    }
    forget_cached_responses(state).await
}

async fn forget_cached_responses(state: &ApiState) -> Result<(), ApiError> {
    state
        .queues
        .forget_cached_responses(&state.response_cache_prefix)
        .await
        .map(drop)
        .map_err(|e| ApiError::Internal(Box::new(e)))
}

/// One page of deleted clients.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DeletedPersonaPage {
    items: Vec<DeletedPersona>,
    next_cursor: Option<String>,
}

/// Who may delete the clients the brokerage shares.
#[derive(Object)]
struct BrokerageSettings {
    /// `lead_or_admin` (the default): a client shared with a team or the brokerage is deleted only
    /// by a team lead of their team or an admin; `owner`: also by the agent who owns them. A
    /// private client is always their owner's to delete.
    deletion: DeletionPolicy,
}

#[derive(ApiResponse)]
enum Restored {
    #[oai(status = 204)]
    Back,
}

pub struct DeletionApi;

#[OpenApi(tag = "ApiTags::Personas")]
impl DeletionApi {
    /// The brokerage's deleted clients waiting for erasure (brokerage admins), in id order; a
    /// client the admin could not see before is listed without a name.
    #[oai(path = "/personas/deleted", method = "get")]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<DeletedPersonaPage>, ApiError> {
        let admin = require_admin(&auth.0, "see deleted clients")?;
        let size = pagination::page_size(limit.0, 50);
        let mut items = state
            .store
            .deleted_personas(admin, pagination::cursor(cursor.0)?, size + 1)
            .await?;
        let next_cursor = pagination::next_cursor(&mut items, size, |p| p.id);
        Ok(Json(DeletedPersonaPage { items, next_cursor }))
    }

    /// Bring back a deleted client before their erasure (brokerage admins): owner, team and
    /// visibility as they were.
    #[oai(path = "/personas/:id/restore", method = "post")]
    async fn restore(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Restored, ApiError> {
        let admin = require_admin(&auth.0, "restore deleted clients")?;
        if !state.store.restore_persona(admin, id.0).await? {
            return Err(ApiError::NotFound(format!("deleted persona {}", id.0)));
        }
        Ok(Restored::Back)
    }

    /// The brokerage's settings.
    #[oai(path = "/settings", method = "get", tag = "ApiTags::Admin")]
    async fn settings(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
    ) -> Result<Json<BrokerageSettings>, ApiError> {
        let deletion = state.store.deletion_policy(auth.0.brokerage_id).await?;
        Ok(Json(BrokerageSettings { deletion }))
    }

    /// Change the brokerage's settings (brokerage admins); audited as `settings.updated`.
    #[oai(path = "/settings", method = "put", tag = "ApiTags::Admin")]
    async fn set_settings(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<BrokerageSettings>,
    ) -> Result<Json<BrokerageSettings>, ApiError> {
        let admin = require_admin(&auth.0, "change the brokerage's settings")?;
        state
            .store
            .set_deletion_policy(admin, body.0.deletion)
            .await?;
        Ok(Json(body.0))
    }
}
