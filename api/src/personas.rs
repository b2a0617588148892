//! `/api/v1/personas`: the brokerage's client intelligence.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, param::Query, payload::Json};
use serde_json::json;
use troupe_shared::{
    auth::Principal,
    domain::{Persona, PersonaProfile, Role, Visibility},
    store::{AuditRecord, PersonaFilter, PersonaWrite},
};
use uuid::Uuid;

use crate::{ApiState, ApiTags, auth::ApiKey, pagination, problem::ApiError};

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// A new persona: the profile, and who may see it (default: only its agent).
#[derive(Object)]
struct PersonaIn {
    #[oai(flatten)]
    profile: PersonaProfile,
    #[oai(default = "private")]
    visibility: Visibility,
}

fn private() -> Visibility {
    Visibility::Private
}

/// A full replacement of a persona's profile.
#[derive(Object)]
struct PersonaReplace {
    #[oai(flatten)]
    profile: PersonaProfile,
    /// Unchanged when omitted.
    visibility: Option<Visibility>,
    /// The version this update was based on; a concurrent change answers 409. Omitted: the
    /// current version.
    version: Option<i64>,
}

#[derive(Object)]
struct PersonaPage {
    items: Vec<Persona>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Persona(Json<Persona>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
enum Deleted {
    #[oai(status = 204)]
    Gone,
}

pub struct PersonasApi;

#[OpenApi(prefix_path = "/personas", tag = "ApiTags::Personas")]
impl PersonasApi {
    /// Create a persona.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<PersonaIn>,
    ) -> Result<Created, ApiError> {
        let Json(PersonaIn {
            profile,
            visibility,
        }) = body;
        let persona = state
            .store
            .create_persona(
                &auth.0,
                PersonaWrite {
                    profile,
                    visibility,
                },
            )
            .await?;
        let detail = json!({ "visibility": persona.visibility, "version": persona.version });
        audit(&state, &auth.0, "persona.created", persona.id, detail).await?;
        let location = format!("/api/v1/personas/{}", persona.id);
        Ok(Created::Persona(Json(persona), location))
    }

    /// A persona the caller may see.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<Persona>, ApiError> {
        let persona = visible(&state, &auth.0, id.0).await?;
        let detail = json!({ "version": persona.version });
        audit(&state, &auth.0, "persona.read", persona.id, detail).await?;
        Ok(Json(persona))
    }

    /// Replace a persona's profile (and optionally its visibility).
    #[oai(path = "/:id", method = "put")]
    async fn replace(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        body: Json<PersonaReplace>,
    ) -> Result<Json<Persona>, ApiError> {
        let current = writable(&state, &auth.0, id.0).await?;
        let Json(PersonaReplace {
            profile,
            visibility,
            version,
        }) = body;
        let write = PersonaWrite {
            profile,
            visibility: visibility.unwrap_or(current.visibility),
        };
        let expected = version.unwrap_or(current.version);
        let updated = state
            .store
            .update_persona(&auth.0, id.0, expected, write)
            .await?
            .ok_or_else(|| {
                ApiError::Conflict(format!(
                    "persona {} changed since version {expected}; reload and retry",
                    id.0
                ))
            })?;
        let detail = json!({ "from_version": current.version, "version": updated.version });
        audit(&state, &auth.0, "persona.updated", updated.id, detail).await?;
        Ok(Json(updated))
    }

    /// Delete a persona.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Deleted, ApiError> {
        writable(&state, &auth.0, id.0).await?;
        if state.store.delete_persona(&auth.0, id.0).await? {
            // The entry names the persona's id only: nothing of its content outlives it.
            audit(&state, &auth.0, "persona.deleted", id.0, json!({})).await?;
            Ok(Deleted::Gone)
        } else {
            Err(ApiError::NotFound(format!("persona {}", id.0)))
        }
    }

    /// The personas the caller may see, oldest first.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50).
        limit: Query<Option<u32>>,
        /// Only personas in this segment.
        segment: Query<Option<String>>,
    ) -> Result<Json<PersonaPage>, ApiError> {
        let limit = pagination::page_size(limit.0, DEFAULT_PAGE, MAX_PAGE)?;
        let after = pagination::cursor(cursor.0)?;
        // One extra row tells whether another page follows.
        let filter = PersonaFilter {
            segment: segment.0,
            after,
            limit: limit + 1,
        };
        let mut items = state.store.list_personas(&auth.0, &filter).await?;
        let next_cursor = pagination::next_cursor(&mut items, limit, |p| p.id);
        Ok(Json(PersonaPage { items, next_cursor }))
    }
}

/// Records who did what to a persona in the audit log; a request whose audit entry cannot be
/// written fails rather than going unrecorded.
async fn audit(
    state: &ApiState,
    caller: &Principal,
    action: &str,
    persona_id: Uuid,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let record = AuditRecord {
        action,
        subject_type: "persona",
        subject_id: persona_id,
        detail,
    };
    Ok(state.store.audit(caller, record).await?)
}

pub(crate) async fn visible(
    state: &ApiState,
    caller: &Principal,
    id: Uuid,
) -> Result<Persona, ApiError> {
    state
        .store
        .get_persona(caller, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("persona {id}")))
}

/// Agents change their own personas; team leads and admins any persona they can see.
async fn writable(state: &ApiState, caller: &Principal, id: Uuid) -> Result<Persona, ApiError> {
    let persona = visible(state, caller, id).await?;
    if caller.role == Role::Agent && persona.agent_id != caller.user_id {
        return Err(ApiError::Forbidden(format!(
            "persona {id} belongs to another agent"
        )));
    }
    Ok(persona)
}
