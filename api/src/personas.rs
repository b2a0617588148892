//! `/api/v1/personas`: the brokerage's client intelligence.

use poem::web::Data;
use poem_openapi::{
    ApiRequest, ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::ParseFromJSON,
};
use serde_json::json;
use troupe_shared::{
    auth::Principal,
    criteria::{ConditionReading, readings},
    domain::{
        Contact, ExternalIds, Fact, Graph, GraphPath, Outcome, OutcomeFilter, Persona,
        PersonaProfile, PersonaVersion, SourceText, VersionChange, Visibility,
        external_id_problems,
    },
    store::{
        AuditEntry, AuditRecord, FeedbackRecord, PersonaFilter, PersonaWrite, RecommendationRecord,
        SimulationAnswers,
    },
};
use uuid::Uuid;

use std::sync::Arc;

use crate::{
    ApiState, ApiTags,
    audit::{Listed, ReadVia, audit_listed},
    auth::{ApiKey, require_admin},
    contract::{Contract, Violation},
    deletion::{delete_client, erase_client_now},
    duplicates::{DuplicateWarning, duplicate_warnings},
    pagination,
    problem::ApiError,
};
use troupe_shared::duplicates::Book;

const DEFAULT_PAGE: u32 = 50;

/// A new persona: the profile, and who may see it (default: only its agent).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PersonaIn {
    #[oai(flatten)]
    profile: PersonaProfile,
    #[oai(default = "private")]
    visibility: Visibility,
}

fn default_depth() -> u32 {
    2
}

fn default_path_depth() -> u32 {
    4
}

fn private() -> Visibility {
    Visibility::Private
}

/// A full replacement of a persona's profile.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PersonaReplace {
    #[oai(flatten)]
    profile: PersonaProfile,
    /// Unchanged when omitted.
    visibility: Option<Visibility>,
    /// The version this update was based on; a concurrent change answers 409. Omitted: the
    /// current version.
    version: Option<i64>,
    #[oai(flatten)]
    echoed: Echoed,
}

/// What a `GET` answers with beyond the profile, accepted back unchanged so that a client can
/// read, modify and `PUT` a persona; a different value is refused, never ignored (ownership
/// changes through `POST /users/{id}/reassign-personas`).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Echoed {
    id: Option<Uuid>,
    brokerage_id: Option<Uuid>,
    agent_id: Option<Uuid>,
    team_id: Option<Uuid>,
    synthetic: Option<bool>,
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    updated_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Derived from the preferences on every read, so whatever is sent back is read afresh.
    conditions: Option<Vec<ConditionReading>>,
}

impl Echoed {
    /// The echoed members that differ from the stored persona's (`updated_at` may be older:
    /// `version` and `If-Match` decide staleness).
    fn differences(&self, current: &Persona) -> Vec<Violation> {
        let mut differ = Vec::new();
        let mut check = |field: &str, same: bool| {
            if !same {
                differ.push(Violation {
                    pointer: format!("/{field}"),
                    detail: format!(
                        "`/{field}` is the service's to set and differs from this persona's; send \
                         it unchanged or leave it out"
                    ),
                });
            }
        };
        check("id", self.id.is_none_or(|v| v == current.id));
        check(
            "brokerage_id",
            self.brokerage_id.is_none_or(|v| v == current.brokerage_id),
        );
        check(
            "agent_id",
            self.agent_id.is_none_or(|v| v == current.agent_id),
        );
        check(
            "team_id",
            self.team_id.is_none_or(|v| Some(v) == current.team_id),
        );
        check(
            "synthetic",
            self.synthetic.is_none_or(|v| v == current.synthetic),
        );
        check(
            "created_at",
            self.created_at.is_none_or(|v| v == current.created_at),
        );
        differ
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PersonaPage {
    items: Vec<Persona>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Persona(Json<PersonaCreated>, #[oai(header = "Location")] String),
}

/// A stored persona, with the clients it is likely a duplicate of.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(crate) struct PersonaCreated {
    #[oai(flatten)]
    pub persona: Persona,
    /// Clients you can see who are probably the same person (the same email or phone, or a
    /// close name in the same city). Nothing was merged: `POST /personas/{id}/merge` does that.
    #[oai(default, skip_serializing_if_is_empty)]
    pub warnings: Vec<DuplicateWarning>,
}

/// A persona with its version as the entity tag, for `If-Match`.
#[derive(ApiResponse)]
enum Found {
    #[oai(status = 200)]
    Persona(Json<PersonaRead>, #[oai(header = "ETag")] String),
}

/// A persona, and how matching reads its preferences.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PersonaRead {
    #[oai(flatten)]
    persona: Persona,
    /// Each deal-breaker, wanted feature, property type and place, as matching reads it
    /// (read-only: derived from the preferences).
    conditions: Vec<ConditionReading>,
}

impl Found {
    /// The persona with its preferences read against the brokerage's places.
    async fn new(state: &ApiState, persona: Persona) -> Result<Self, ApiError> {
        let places = state.store.list_places(persona.brokerage_id).await?;
        let etag = format!("\"{}\"", persona.version);
        let conditions = readings(&persona.profile.preferences, &places);
        let read = PersonaRead {
            persona,
            conditions,
        };
        Ok(Found::Persona(Json(read), etag))
    }
}

/// An RFC 7396 JSON Merge Patch of the profile and `visibility`: members set replace, `null`
/// removes, objects merge.
#[derive(ApiRequest)]
enum MergePatch {
    #[oai(content_type = "application/merge-patch+json")]
    MergePatch(Json<serde_json::Value>),
    #[oai(content_type = "application/json")]
    Json(Json<serde_json::Value>),
}

/// Everything held about a client (GDPR/CCPA access): the persona, their answers in past
/// simulations, their matches and the feedback on them, and who accessed the record when.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(crate) struct PersonaExport {
    exported_at: chrono::DateTime<chrono::Utc>,
    persona: Persona,
    /// Every version, oldest first, private fields included.
    versions: Vec<PersonaVersion>,
    /// Every source learned from, with its text.
    sources: Vec<SourceText>,
    /// Every fact learned, with its quoted evidence.
    facts: Vec<Fact>,
    /// The persona's own nodes and edges (one hop).
    graph: Graph,
    simulations: Vec<SimulationAnswers>,
    recommendations: Vec<RecommendationRecord>,
    feedback: Vec<FeedbackRecord>,
    /// What really happened with the client (showings and what they said, offers, purchases,
    /// answers to outreach), newest first.
    outcomes: Vec<Outcome>,
    /// The audit trail of this persona, oldest first.
    access_log: Vec<AuditEntry>,
}

/// When a deletion erases.
#[derive(poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
enum Erase {
    /// At once, rather than after the restore window.
    Now,
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
        let created = create_client(&state, &auth.0, profile, visibility).await?;
        let location = format!("/api/v1/personas/{}", created.persona.id);
        Ok(Created::Persona(Json(created), location))
    }

    /// A persona the caller may see.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Found, ApiError> {
        let persona = visible(&state, &auth.0, id.0).await?;
        let detail = json!({ "version": persona.version });
        audit(&state, &auth.0, "persona.read", persona.id, detail).await?;
        Found::new(&state, persona).await
    }

    /// Replace a persona's profile (and optionally its visibility). With `If-Match: "<version>"`
    /// (or `version` in the body) a write based on an older version answers 412, never
    /// overwriting a change it did not see.
    #[oai(path = "/:id", method = "put")]
    async fn replace(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: Json<PersonaReplace>,
    ) -> Result<Found, ApiError> {
        let current = writable(&state, &auth.0, id.0).await?;
        let Json(PersonaReplace {
            mut profile,
            visibility,
            version,
            echoed,
        }) = body;
        let differ = echoed.differences(&current);
        if !differ.is_empty() {
            return Err(ApiError::BrokenRule(differ));
        }
        follows_rules(&mut profile)?;
        relationships_known(&state, &auth.0, &profile).await?;
        let expected = match expected_version(if_match.0.as_deref())? {
            Some(tagged) => tagged,
            None => version.unwrap_or(current.version),
        };
        let write = PersonaWrite {
            profile,
            visibility: visibility.unwrap_or(current.visibility),
        };
        let updated = write_version(&state, &auth.0, &current, expected, write).await?;
        Found::new(&state, updated).await
    }

    /// Change some fields: an RFC 7396 JSON Merge Patch of the profile and `visibility`
    /// (`application/merge-patch+json`); `If-Match` as for `PUT`.
    #[oai(path = "/:id", method = "patch")]
    async fn patch(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: MergePatch,
        contract: Data<&Arc<Contract>>,
    ) -> Result<Found, ApiError> {
        let (MergePatch::MergePatch(Json(patch)) | MergePatch::Json(Json(patch))) = body;
        let expected = expected_version(if_match.0.as_deref())?;
        let updated = patch_client(&state, &auth.0, &contract, id.0, expected, patch).await?;
        Found::new(&state, updated).await
    }

    /// Everything held about the client, as one JSON document.
    #[oai(path = "/:id/export", method = "get")]
    async fn export(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<PersonaExport>, ApiError> {
        export_client(&state, &auth.0, id.0).await.map(Json)
    }

    /// The evolution timeline, newest first: every version with its field-level changes (e.g.
    /// `preferences.budget.max` from 30000000 to 40000000), who made it and when.
    #[oai(path = "/:id/history", method = "get")]
    async fn history(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<Vec<VersionChange>>, ApiError> {
        let persona = visible(&state, &auth.0, id.0).await?;
        audit(
            &state,
            &auth.0,
            "persona.read",
            persona.id,
            json!({ "history": true }),
        )
        .await?;
        Ok(Json(
            state.store.persona_history(&auth.0, persona.id).await?,
        ))
    }

    /// The persona as it was at version `n`.
    #[oai(path = "/:id/versions/:n", method = "get")]
    async fn version(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        n: Path<i64>,
    ) -> Result<Json<PersonaVersion>, ApiError> {
        let persona = visible(&state, &auth.0, id.0).await?;
        let version = state
            .store
            .persona_version(&auth.0, persona.id, n.0)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("version {} of persona {}", n.0, id.0)))?;
        audit(
            &state,
            &auth.0,
            "persona.read",
            persona.id,
            json!({ "version": n.0 }),
        )
        .await?;
        Ok(Json(version))
    }

    /// The persona's knowledge graph: people, personas, interests and past properties within
    /// `depth` hops (1–4, default 2), through personas the caller may see only.
    #[oai(path = "/:id/graph", method = "get")]
    async fn graph(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        #[oai(
            default = "default_depth",
            validator(minimum(value = "1"), maximum(value = "4"))
        )]
        depth: Query<u32>,
    ) -> Result<Json<Graph>, ApiError> {
        let persona = visible(&state, &auth.0, id.0).await?;
        let detail = json!({ "graph_depth": depth.0 });
        audit(&state, &auth.0, "persona.read", persona.id, detail).await?;
        Ok(Json(
            state
                .store
                .persona_graph(&auth.0, persona.id, depth.0)
                .await?,
        ))
    }

    /// How this persona is connected to another (referrals, shared advisors, …): the shortest
    /// chain within `max_depth` hops (1–6, default 4); empty when there is none.
    #[oai(path = "/:id/path/:other", method = "get")]
    async fn path(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        other: Path<Uuid>,
        #[oai(
            default = "default_path_depth",
            validator(minimum(value = "1"), maximum(value = "6"))
        )]
        max_depth: Query<u32>,
    ) -> Result<Json<GraphPath>, ApiError> {
        let from = visible(&state, &auth.0, id.0).await?;
        let to = visible(&state, &auth.0, other.0).await?;
        Ok(Json(
            state
                .store
                .persona_path(&auth.0, from.id, to.id, max_depth.0)
                .await?,
        ))
    }

    /// Delete a persona: hidden from everyone at once and erased after 30 days, during which a
    /// brokerage admin can restore it (`POST /personas/{id}/restore`). A client shared with a
    /// team or the brokerage is deleted by whom the brokerage's `deletion` setting allows.
    /// `erase=now` (brokerage admins) erases at once instead — an erasure request under
    /// GDPR/CCPA — whoever's client it is, deleted before or not.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        erase: Query<Option<Erase>>,
    ) -> Result<Deleted, ApiError> {
        match erase.0 {
            Some(Erase::Now) => {
                let admin = require_admin(&auth.0, "erase a client at once")?;
                erase_client_now(&state, admin, id.0).await?;
            }
            None => {
                delete_client(&state, &auth.0, id.0).await?;
            }
        }
        Ok(Deleted::Gone)
    }

    /// The personas the caller may see, oldest first, optionally filtered.
    #[oai(path = "/", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        /// Only personas in this segment.
        segment: Query<Option<String>>,
        /// Only this agent's personas.
        owner_id: Query<Option<Uuid>>,
        /// Only this team's personas.
        team_id: Query<Option<Uuid>>,
        visibility: Query<Option<Visibility>>,
        /// Up to 4 words, any case; a client matches when each starts a word of its name or is
        /// a word of its biography ("har vale" finds Harrison Vale). Profiles are encrypted at
        /// rest, so words are matched through keyed hashes, never by reading the text.
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// `true` lists the synthetic participants the persona factory made for simulations
        /// instead of the client book (which never shows them).
        synthetic: Query<Option<bool>>,
        /// Only the client with this email address (any case); found through a keyed hash, the
        /// address itself being stored sealed.
        #[oai(validator(max_length = 254))]
        email: Query<Option<String>>,
    ) -> Result<Json<PersonaPage>, ApiError> {
        let email = match email.0 {
            None => None,
            Some(address) => Some(
                Contact {
                    email: Some(address),
                    phone: None,
                }
                .normalised_email()
                .ok_or_else(|| {
                    ApiError::Validation("email must be an email address (name@domain)".into())
                })?,
            ),
        };
        let limit = pagination::page_size(limit.0, DEFAULT_PAGE);
        let after = pagination::cursor(cursor.0)?;
        // One extra row tells whether another page follows.
        let filter = PersonaFilter {
            segment: segment.0,
            owner_id: owner_id.0,
            team_id: team_id.0,
            visibility: visibility.0,
            text: searchable(q.0)?,
            after,
            limit: limit + 1,
            synthetic: synthetic.0.unwrap_or(false),
            email,
        };
        let mut items = state.store.list_personas(&auth.0, &filter).await?;
        let next_cursor = pagination::next_cursor(&mut items, limit, |p| p.id);
        audit_listed(
            &state,
            &auth.0,
            Listed::Personas,
            items.iter().map(|p| p.id),
            ReadVia::Api,
        )
        .await?;
        Ok(Json(PersonaPage { items, next_cursor }))
    }
}

/// The version an `If-Match` names: `"3"` (or `W/"3"`, or `*` for any).
fn expected_version(if_match: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(raw) = if_match.map(str::trim) else {
        return Ok(None);
    };
    if raw == "*" {
        return Ok(None);
    }
    raw.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| {
            ApiError::Validation(format!(
                "If-Match {raw:?} is not a persona version (an ETag such as \"3\")"
            ))
        })
}

/// Writes `write` over `current` if it is still at `expected` (the store audits the change in its
/// transaction).
async fn write_version(
    state: &ApiState,
    caller: &Principal,
    current: &Persona,
    expected: i64,
    write: PersonaWrite,
) -> Result<Persona, ApiError> {
    state
        .store
        .update_persona(caller, current.id, expected, write)
        .await?
        .ok_or_else(|| {
            ApiError::PreconditionFailed(format!(
                "persona {} is no longer at version {expected}; reload it and apply your change again",
                current.id
            ))
        })
}

/// Records who did what to a persona in the audit log; a request whose audit entry cannot be
/// written fails rather than going unrecorded.
pub(crate) async fn audit(
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

/// The `q` of a persona search: blank is no search; a control character (a NUL would match
/// every persona) is refused.
fn searchable(q: Option<String>) -> Result<Option<String>, ApiError> {
    match q {
        Some(q) if q.chars().any(char::is_control) => Err(ApiError::Validation(
            "q must be text to search for, without control characters".into(),
        )),
        Some(q) if !q.trim().is_empty() => Ok(Some(q)),
        _ => Ok(None),
    }
}

/// A relationship may name another client by `persona_id` only if the caller can see that client:
/// the graph never links to another brokerage's, or an unseen, persona.
pub(crate) async fn relationships_known(
    state: &ApiState,
    caller: &Principal,
    profile: &PersonaProfile,
) -> Result<(), ApiError> {
    let mut unknown = Vec::new();
    for (i, relationship) in profile.knowledge_graph.relationships.iter().enumerate() {
        let Some(named) = relationship.get("persona_id").filter(|v| !v.is_null()) else {
            continue;
        };
        let pointer = format!("/knowledge_graph/relationships/{i}/persona_id");
        let id = named.as_str().and_then(|id| Uuid::try_parse(id).ok());
        let known = match id {
            Some(id) => state.store.get_persona(caller, id).await?.is_some(),
            None => false,
        };
        if !known {
            unknown.push(Violation {
                detail: format!(
                    "`{pointer}` ({named}) is not a client you can see: name the person with \
                     `name` instead, or give the id of one of your brokerage's clients"
                ),
                pointer,
            });
        }
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BrokenRule(unknown))
    }
}

/// The rules between a profile's fields (the schema checks each field alone), and a label for a
/// persona given no name.
pub(crate) fn follows_rules(profile: &mut PersonaProfile) -> Result<(), ApiError> {
    let mut broken = Vec::new();
    if let Some(budget) = &profile.preferences.budget
        && let (Some(min), Some(max)) = (budget.min, budget.max)
        && min > max
    {
        broken.push(Violation {
            pointer: "/preferences/budget/min".into(),
            detail: format!(
                "`/preferences/budget/min` ({}) is above `/preferences/budget/max` ({}): the \
                 minimum cannot exceed the maximum",
                troupe_shared::numbers::money(min),
                troupe_shared::numbers::money(max)
            ),
        });
    }
    let today = chrono::Utc::now().date_naive();
    for (i, event) in profile.life_events.iter().enumerate() {
        if event.occurred_on.is_some_and(|on| on > today) {
            let pointer = format!("/life_events/{i}/occurred_on");
            broken.push(Violation {
                detail: format!("`{pointer}` is in the future: a life event has happened"),
                pointer,
            });
        }
    }
    broken.extend(external_ids_rules(&profile.external_ids));
    // A CRM sends a contact it has no number for as "": not a number, but no number.
    for field in [&mut profile.contact.email, &mut profile.contact.phone] {
        if field
            .as_deref()
            .is_some_and(|value| value.trim().is_empty())
        {
            *field = None;
        }
    }
    let contact = &profile.contact;
    if contact.email.is_some() && contact.normalised_email().is_none() {
        broken.push(Violation {
            pointer: "/contact/email".into(),
            detail: "`/contact/email` is not an email address (name@domain)".into(),
        });
    }
    if contact.phone.is_some() && contact.normalised_phone().is_none() {
        broken.push(Violation {
            pointer: "/contact/phone".into(),
            detail: "`/contact/phone` is not a phone number: it needs at least 7 digits".into(),
        });
    }
    if !broken.is_empty() {
        return Err(ApiError::BrokenRule(broken));
    }
    profile.label_if_unnamed();
    Ok(())
}

/// Stores a new client after the rules a body's schema cannot say, and names the clients they
/// are likely a duplicate of (the API's `POST /personas` and the workspace's form).
pub(crate) async fn create_client(
    state: &ApiState,
    caller: &Principal,
    mut profile: PersonaProfile,
    visibility: Visibility,
) -> Result<PersonaCreated, ApiError> {
    follows_rules(&mut profile)?;
    relationships_known(state, caller, &profile).await?;
    let candidate = state.store.book_entry(caller, None, &profile);
    let book = Book::new(state.store.book_near(caller, &candidate).await?);
    let persona = state
        .store
        .create_persona(
            caller,
            PersonaWrite {
                profile,
                visibility,
            },
        )
        .await?;
    let warnings = duplicate_warnings(state, caller, &book, &persona);
    Ok(PersonaCreated { persona, warnings })
}

/// Applies an RFC 7396 merge patch of the profile and `visibility` to a client the caller may
/// change, checked as a `POST` body would be; `expected` (default: the current version) guards
/// against overwriting a change the caller did not see.
pub(crate) async fn patch_client(
    state: &ApiState,
    caller: &Principal,
    contract: &Contract,
    id: Uuid,
    expected: Option<i64>,
    patch: serde_json::Value,
) -> Result<Persona, ApiError> {
    let current = writable(state, caller, id).await?;
    if !patch.is_object() {
        return Err(ApiError::Validation(
            "a merge patch is a JSON object".into(),
        ));
    }
    let mut document =
        serde_json::to_value(&current.profile).map_err(|e| ApiError::Internal(Box::new(e)))?;
    document["visibility"] = json!(current.visibility);
    json_patch::merge(&mut document, &patch);
    // The patched persona must be one a `POST` would take: the same schema, the same words.
    contract.check_against("PersonaIn", &document)?;
    let visibility = match document
        .as_object_mut()
        .and_then(|d| d.remove("visibility"))
    {
        Some(serde_json::Value::Null) | None => current.visibility,
        Some(raw) => serde_json::from_value(raw).map_err(|_| {
            ApiError::Validation("visibility must be private, team or brokerage".into())
        })?,
    };
    // Parsed as the API parses a body, validators included.
    let mut profile = PersonaProfile::parse_from_json(Some(document)).map_err(|e| {
        ApiError::Validation(format!(
            "the patched persona is invalid: {}",
            e.into_message()
        ))
    })?;
    follows_rules(&mut profile)?;
    relationships_known(state, caller, &profile).await?;
    let write = PersonaWrite {
        profile,
        visibility,
    };
    write_version(
        state,
        caller,
        &current,
        expected.unwrap_or(current.version),
        write,
    )
    .await
}

/// Everything held about a client the caller may see, audited as an export.
pub(crate) async fn export_client(
    state: &ApiState,
    caller: &Principal,
    id: Uuid,
) -> Result<PersonaExport, ApiError> {
    let persona = visible(state, caller, id).await?;
    audit(
        state,
        caller,
        "persona.exported",
        persona.id,
        json!({ "version": persona.version }),
    )
    .await?;
    let records = state
        .store
        .persona_records(caller.brokerage_id, persona.id)
        .await?;
    let access_log = state.store.persona_access_log(caller, persona.id).await?;
    let store = &state.store;
    let mut outcomes = Vec::new();
    let mut about = OutcomeFilter {
        persona_id: Some(persona.id),
        limit: 200,
        ..OutcomeFilter::default()
    };
    loop {
        let mut page = store.list_outcomes(caller, &about).await?;
        let more = page.len() > 200;
        page.truncate(200);
        about.before = page.last().map(|o| o.id);
        outcomes.extend(page);
        if !more {
            break;
        }
    }
    Ok(PersonaExport {
        exported_at: chrono::Utc::now(),
        versions: store.persona_versions(caller, persona.id).await?,
        sources: store.persona_sources(persona.id).await?,
        facts: store.persona_facts(caller, persona.id).await?,
        graph: store.persona_graph(caller, persona.id, 1).await?,
        persona,
        simulations: records.simulations,
        recommendations: records.recommendations,
        feedback: records.feedback,
        outcomes,
        access_log,
    })
}

/// The rules of a record's `external_ids`, as violations at `/external_ids/…`.
pub(crate) fn external_ids_rules(ids: &ExternalIds) -> Vec<Violation> {
    external_id_problems(ids, "/external_ids")
        .into_iter()
        .map(|(pointer, detail)| Violation { pointer, detail })
        .collect()
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
pub(crate) async fn writable(
    state: &ApiState,
    caller: &Principal,
    id: Uuid,
) -> Result<Persona, ApiError> {
    let persona = visible(state, caller, id).await?;
    if !caller.may_change_client_of(persona.agent_id) {
        return Err(ApiError::Forbidden(format!(
            "persona {id} belongs to another agent"
        )));
    }
    Ok(persona)
}
