//! Likely duplicates in the client book: reported when a client is created or imported, and
//! listed at `GET /api/v1/personas/duplicates` for someone to review. Only clients the caller may
//! see are compared, so a warning never reveals another agent's private client.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};
use serde_json::json;
use troupe_shared::{
    auth::Principal,
    domain::Persona,
    duplicates::{Book, BookEntry, Likeness},
    store::AuditRecord,
};
use uuid::Uuid;

use crate::{ApiState, ApiTags, audit::ReadVia, auth::ApiKey, problem::ApiError};

/// A client that is probably the same person as the one just written.
#[derive(Object, Clone, Debug)]
pub struct DuplicateWarning {
    /// Always `likely_duplicate`.
    pub kind: String,
    /// The other client.
    pub persona_id: Uuid,
    pub name: String,
    /// Why: `the same email address`, `the same phone number`, `a close name ("H. Vale") in the
    /// same city (Malibu)`.
    pub reasons: Vec<String>,
    /// The warning in one sentence.
    pub detail: String,
}

impl DuplicateWarning {
    pub fn new(persona_id: Uuid, name: &str, likeness: &[Likeness]) -> DuplicateWarning {
        let reasons: Vec<String> = likeness.iter().map(Likeness::words).collect();
        DuplicateWarning {
            kind: "likely_duplicate".into(),
            detail: format!(
                "probably the same client as {name:?} ({persona_id}): {}",
                reasons.join(", ")
            ),
            persona_id,
            name: name.to_owned(),
            reasons,
        }
    }
}

/// The clients in `book` (read before `persona` was stored) that `persona` is likely a duplicate
/// of.
pub(crate) fn duplicate_warnings(
    state: &ApiState,
    caller: &Principal,
    book: &Book,
    persona: &Persona,
) -> Vec<DuplicateWarning> {
    let entry = state
        .store
        .book_entry(caller, Some(persona.id), &persona.profile);
    book.matches(&entry)
        .into_iter()
        .filter_map(|(other, likeness)| {
            other
                .id
                .map(|id| DuplicateWarning::new(id, &other.name, &likeness))
        })
        .collect()
}

/// Two clients that are probably one person.
#[derive(Object)]
struct DuplicatePair {
    /// The older record first.
    persona_ids: Vec<Uuid>,
    names: Vec<String>,
    reasons: Vec<String>,
}

#[derive(Object)]
struct DuplicateList {
    items: Vec<DuplicatePair>,
    /// More pairs were found than `limit`.
    truncated: bool,
}

fn default_limit() -> u32 {
    100
}

pub struct DuplicatesApi;

#[OpenApi(prefix_path = "/personas", tag = "ApiTags::Personas")]
impl DuplicatesApi {
    /// Pairs of clients you can see who are probably the same person: the same email address or
    /// phone number (compared as keyed hashes), or close names in the same city. Oldest pair
    /// first. Nothing is merged by itself.
    #[oai(path = "/duplicates", method = "get")]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        /// Pairs to return, 1 to 500 (default 100).
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<u32>,
    ) -> Result<Json<DuplicateList>, ApiError> {
        let (pairs, truncated) =
            likely_pairs(&state, &auth.0, limit.0 as usize, ReadVia::Api).await?;
        let items = pairs
            .into_iter()
            .filter_map(|pair| {
                Some(DuplicatePair {
                    persona_ids: vec![pair.first.id?, pair.second.id?],
                    names: vec![pair.first.name, pair.second.name],
                    reasons: pair.likeness.iter().map(Likeness::words).collect(),
                })
            })
            .collect();
        Ok(Json(DuplicateList { items, truncated }))
    }
}

/// Two records of the book that are probably one client.
pub(crate) struct LikelyPair {
    pub first: BookEntry,
    pub second: BookEntry,
    pub likeness: Vec<Likeness>,
}

/// The first `limit` pairs of likely duplicates among the clients the caller may see (and
/// whether there were more); listing them is audited as a read of those clients.
pub(crate) async fn likely_pairs(
    state: &ApiState,
    caller: &Principal,
    limit: usize,
    via: ReadVia,
) -> Result<(Vec<LikelyPair>, bool), ApiError> {
    let book = Book::new(state.store.book_entries(caller).await?);
    let found = book.pairs();
    let truncated = found.len() > limit;
    let pairs: Vec<LikelyPair> = found
        .into_iter()
        .take(limit)
        .map(|(first, second, likeness)| LikelyPair {
            first: first.clone(),
            second: second.clone(),
            likeness,
        })
        .collect();
    let ids: Vec<Uuid> = pairs
        .iter()
        .flat_map(|p| [p.first.id, p.second.id])
        .flatten()
        .collect();
    if !ids.is_empty() {
        let record = AuditRecord {
            action: "persona.listed",
            subject_type: "user",
            subject_id: caller.user_id,
            detail: via.tag(json!({ "persona_ids": ids, "duplicates": true })),
        };
        state.store.audit(caller, record).await?;
    }
    Ok((pairs, truncated))
}
