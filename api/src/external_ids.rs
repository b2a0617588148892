//! Clients and listings by their ids in other systems (`/personas/by-external-id/{source}/{id}`,
//! `/properties/by-external-id/{source}/{id}`): how a CRM or an MLS feed keeps Troupe in step
//! without storing Troupe's ids. A `PUT` creates the record or changes it.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi, param::Path, payload::Json, types::ParseFromJSON,
};
use serde_json::{Value, json};
use std::sync::Arc;
use troupe_shared::{
    auth::Principal,
    domain::{
        Persona, PersonaProfile, Property, PropertyDetails, Role, Visibility, source_problem,
    },
    duplicates::Book,
    store::{Holder, PersonaWrite},
};

use crate::{
    ApiState, ApiTags,
    auth::ApiKey,
    contract::{Contract, Violation},
    duplicates::{DuplicateWarning, duplicate_warnings},
    personas::{audit, follows_rules, relationships_known},
    problem::ApiError,
};

/// What an upsert did.
pub(crate) enum Upserted {
    Created(Persona, Vec<DuplicateWarning>),
    Updated(Persona),
    Unchanged(Persona),
}

impl Upserted {
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            Upserted::Created(..) => "created",
            Upserted::Updated(_) => "updated",
            Upserted::Unchanged(_) => "unchanged",
        }
    }
}

/// Writes `document` (a persona's JSON, as `POST /personas` takes it) as a new client, or over
/// `existing`: then only the members the document names change (an RFC 7396 merge), so a CRM's
/// sync never erases what agents and enrichment added. `book` is the client book as read before
/// (a created client is added to it, so the next row of an import is compared with it too).
pub(crate) async fn upsert_persona(
    state: &ApiState,
    caller: &Principal,
    contract: &Contract,
    existing: Option<Persona>,
    document: Value,
    book: &mut Book,
) -> Result<Upserted, ApiError> {
    if !document.is_object() {
        return Err(ApiError::Validation("a persona is a JSON object".into()));
    }
    if let Some(current) = &existing
        && caller.role == Role::Agent
        && current.agent_id != caller.user_id
    {
        return Err(ApiError::Forbidden(format!(
            "persona {} belongs to another agent",
            current.id
        )));
    }
    let mut merged = match &existing {
        Some(current) => {
            let mut stored = serde_json::to_value(&current.profile)
                .map_err(|e| ApiError::Internal(Box::new(e)))?;
            stored["visibility"] = json!(current.visibility);
            json_patch::merge(&mut stored, &document);
            stored
        }
        None => document,
    };
    contract.check_against("PersonaIn", &merged)?;
    let visibility = match merged.as_object_mut().and_then(|d| d.remove("visibility")) {
        Some(Value::Null) | None => existing
            .as_ref()
            .map_or(Visibility::Private, |p| p.visibility),
        Some(raw) => serde_json::from_value(raw).map_err(|_| {
            ApiError::Validation("visibility must be private, team or brokerage".into())
        })?,
    };
    let mut profile = PersonaProfile::parse_from_json(Some(merged)).map_err(|e| {
        ApiError::Validation(format!("the persona is invalid: {}", e.into_message()))
    })?;
    follows_rules(&mut profile)?;
    relationships_known(state, caller, &profile).await?;
    let write = PersonaWrite {
        profile,
        visibility,
    };
    match existing {
        Some(current) if current.profile == write.profile && current.visibility == visibility => {
            Ok(Upserted::Unchanged(current))
        }
        Some(current) => {
            let updated = state
                .store
                .update_persona(caller, current.id, current.version, write)
                .await?
                .ok_or_else(|| {
                    ApiError::PreconditionFailed(format!(
                        "persona {} changed while this request was applied; send it again",
                        current.id
                    ))
                })?;
            Ok(Upserted::Updated(updated))
        }
        None => {
            let created = state.store.create_persona(caller, write).await?;
            let warnings = duplicate_warnings(state, caller, book, &created);
            book.add(
                state
                    .store
                    .book_entry(caller, Some(created.id), &created.profile),
            );
            Ok(Upserted::Created(created, warnings))
        }
    }
}

/// A persona written by its external id, and what the write did.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PersonaUpserted {
    #[oai(flatten)]
    persona: Persona,
    /// `created`, `updated` or `unchanged`.
    outcome: String,
    /// For a new client: the clients you can see who are probably the same person.
    #[oai(default, skip_serializing_if_is_empty)]
    warnings: Vec<DuplicateWarning>,
}

#[derive(ApiResponse)]
enum PersonaUpsert {
    /// A new client, holding the external id.
    #[oai(status = 201)]
    Created(Json<PersonaUpserted>, #[oai(header = "Location")] String),
    /// The client holding the external id, changed (or already as sent).
    #[oai(status = 200)]
    Stored(Json<PersonaUpserted>),
}

#[derive(Object)]
struct PropertyUpserted {
    #[oai(flatten)]
    property: Property,
    /// `created`, `updated` or `unchanged`.
    outcome: String,
}

#[derive(ApiResponse)]
enum PropertyUpsert {
    #[oai(status = 201)]
    Created(Json<PropertyUpserted>, #[oai(header = "Location")] String),
    #[oai(status = 200)]
    Stored(Json<PropertyUpserted>),
}

/// The path's system and id, checked as a record's `external_ids` member would be.
fn path_key(source: &str, id: &str) -> Result<(), ApiError> {
    let mut broken = Vec::new();
    if let Some(why) = source_problem(source) {
        broken.push(Violation {
            pointer: String::new(),
            detail: format!("the path's `source`: {why}"),
        });
    }
    if let Some(why) = troupe_shared::domain::external_id_problem(id) {
        broken.push(Violation {
            pointer: String::new(),
            detail: format!("the path's `external_id`: {why}"),
        });
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BrokenRule(broken))
    }
}

/// Puts the path's id into the record's ids; the same system named with another id is refused.
fn with_path_id(
    ids: &mut troupe_shared::domain::ExternalIds,
    source: &str,
    id: &str,
) -> Result<(), ApiError> {
    match ids.get(source) {
        Some(named) if named != id => Err(ApiError::BrokenRule(vec![Violation {
            pointer: format!("/external_ids/{source}"),
            detail: format!(
                "`/external_ids/{source}` is {named:?}, but the path names {id:?}: leave it out or \
                 send the same id"
            ),
        }])),
        _ => {
            ids.insert(source.to_owned(), id.to_owned());
            Ok(())
        }
    }
}

pub struct ExternalIdsApi;

#[OpenApi]
impl ExternalIdsApi {
    /// The client who holds this id in another system (`source`, e.g. `hubspot`).
    #[oai(
        path = "/personas/by-external-id/:source/:external_id",
        method = "get",
        tag = "ApiTags::Personas"
    )]
    async fn get_persona(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        source: Path<String>,
        external_id: Path<String>,
    ) -> Result<Json<Persona>, ApiError> {
        path_key(&source.0, &external_id.0)?;
        let persona = state
            .store
            .persona_by_external_id(&auth.0, &source.0, &external_id.0)
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(format!("a client with {} id {:?}", source.0, external_id.0))
            })?;
        let detail = json!({ "version": persona.version, "by": source.0 });
        audit(&state, &auth.0, "persona.read", persona.id, detail).await?;
        Ok(Json(persona))
    }

    /// Create or change the client who holds this id in another system. The body is a persona as
    /// for `POST /personas`; for a client already stored, only the members it names change (an
    /// RFC 7396 merge), so a CRM's sync keeps what agents and enrichment added. The path's id is
    /// added to `external_ids`. A client you may not change answers 403; an id held by a client
    /// you cannot see answers 409.
    #[oai(
        path = "/personas/by-external-id/:source/:external_id",
        method = "put",
        tag = "ApiTags::Personas"
    )]
    async fn put_persona(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        source: Path<String>,
        external_id: Path<String>,
        body: Json<Value>,
        contract: Data<&Arc<Contract>>,
    ) -> Result<PersonaUpsert, ApiError> {
        let (source, external_id) = (source.0, external_id.0);
        path_key(&source, &external_id)?;
        let mut document = body.0;
        let Some(fields) = document.as_object_mut() else {
            return Err(ApiError::Validation("a persona is a JSON object".into()));
        };
        let mut ids: troupe_shared::domain::ExternalIds = match fields.get("external_ids") {
            Some(Value::Object(_)) => serde_json::from_value(fields["external_ids"].clone())
                .map_err(|_| {
                    ApiError::BrokenRule(vec![Violation {
                        pointer: "/external_ids".into(),
                        detail: "`/external_ids` maps each system to an id as text".into(),
                    }])
                })?,
            _ => Default::default(),
        };
        with_path_id(&mut ids, &source, &external_id)?;
        let existing = match state
            .store
            .persona_holder(&auth.0, &source, &external_id)
            .await?
        {
            Holder::Nobody => None,
            Holder::Visible(id) => state.store.get_persona(&auth.0, id).await?,
            Holder::Unseen => {
                return Err(ApiError::Conflict(format!(
                    "the {source} id {external_id:?} names a client of the brokerage you cannot \
                     see; their agent, or a team lead who sees them, can update them"
                )));
            }
            Holder::Deleted => {
                return Err(ApiError::Conflict(format!(
                    "the {source} id {external_id:?} names a deleted client waiting for erasure; \
                     an admin can restore them, or erase them now to free the id"
                )));
            }
        };
        // Merged with the stored ids, so other systems' ids are kept.
        if let Some(current) = &existing {
            for (system, id) in &current.profile.external_ids {
                ids.entry(system.clone()).or_insert_with(|| id.clone());
            }
        }
        fields.insert("external_ids".into(), json!(ids));
        // Only a new client is compared with the book, and only with the part it could match.
        let mut book = match &existing {
            Some(_) => Book::default(),
            None => {
                let profile: PersonaProfile =
                    serde_json::from_value(document.clone()).unwrap_or_default();
                let candidate = state.store.book_entry(&auth.0, None, &profile);
                Book::new(state.store.book_near(&auth.0, &candidate).await?)
            }
        };
        let done =
            upsert_persona(&state, &auth.0, &contract, existing, document, &mut book).await?;
        let outcome = done.outcome().to_owned();
        Ok(match done {
            Upserted::Created(persona, warnings) => {
                let location = format!("/api/v1/personas/{}", persona.id);
                PersonaUpsert::Created(
                    Json(PersonaUpserted {
                        persona,
                        outcome,
                        warnings,
                    }),
                    location,
                )
            }
            Upserted::Updated(persona) | Upserted::Unchanged(persona) => {
                PersonaUpsert::Stored(Json(PersonaUpserted {
                    persona,
                    outcome,
                    warnings: Vec::new(),
                }))
            }
        })
    }

    /// The listing that holds this id in another system (`source`, e.g. `mls`).
    #[oai(
        path = "/properties/by-external-id/:source/:external_id",
        method = "get",
        tag = "ApiTags::Properties"
    )]
    async fn get_property(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        source: Path<String>,
        external_id: Path<String>,
    ) -> Result<Json<Property>, ApiError> {
        path_key(&source.0, &external_id.0)?;
        state
            .store
            .property_by_external_id(auth.0.brokerage_id, &source.0, &external_id.0)
            .await?
            .map(Json)
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "a listing with {} id {:?}",
                    source.0, external_id.0
                ))
            })
    }

    /// Create or replace the listing that holds this id in another system. The body is a listing
    /// as for `POST /properties`; the stored listing's other external ids are kept, and the
    /// path's is added.
    #[oai(
        path = "/properties/by-external-id/:source/:external_id",
        method = "put",
        tag = "ApiTags::Properties"
    )]
    async fn put_property(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        source: Path<String>,
        external_id: Path<String>,
        body: Json<PropertyDetails>,
    ) -> Result<PropertyUpsert, ApiError> {
        let (source, external_id) = (source.0, external_id.0);
        path_key(&source, &external_id)?;
        let mut details = body.0;
        with_path_id(&mut details.external_ids, &source, &external_id)?;
        let brokerage = auth.0.brokerage_id;
        let existing = state
            .store
            .property_by_external_id(brokerage, &source, &external_id)
            .await?;
        if let Some(current) = &existing {
            for (system, id) in &current.details.external_ids {
                details
                    .external_ids
                    .entry(system.clone())
                    .or_insert_with(|| id.clone());
            }
        }
        crate::properties::check_listing(&mut details)?;
        let (property, outcome) = match existing {
            Some(current) if current.details == details => (current, "unchanged"),
            Some(current) => {
                let updated = state
                    .store
                    .update_property(brokerage, current.id, &details)
                    .await?
                    .ok_or_else(|| ApiError::NotFound(format!("property {}", current.id)))?;
                (updated, "updated")
            }
            None => {
                let created = state.store.create_property(&auth.0, &details).await?;
                let location = format!("/api/v1/properties/{}", created.id);
                let body = PropertyUpserted {
                    property: created,
                    outcome: "created".into(),
                };
                return Ok(PropertyUpsert::Created(Json(body), location));
            }
        };
        Ok(PropertyUpsert::Stored(Json(PropertyUpserted {
            property,
            outcome: outcome.into(),
        })))
    }
}
