//! Likely duplicates in the client book: reported when a client is created or imported, and
//! listed at `GET /api/v1/personas/duplicates` for someone to review. Only clients the caller may
//! see are compared, so a warning never reveals another agent's private client.

use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde_json::json;
use troupe_shared::{
    auth::Principal,
    domain::Persona,
    duplicates::{Book, BookEntry, Likeness},
    store::{AuditRecord, MergeRefused},
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags, audit::ReadVia, auth::ApiKey, contract::Violation, personas::visible,
    problem::ApiError,
};

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

/// Which record to keep.
#[derive(Object)]
struct MergeRequest {
    /// The client record that is kept; the one in the path is merged into it and removed.
    into: Uuid,
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

    /// Merge a client recorded twice: `{id}` is folded into the record named by `into`, which
    /// is kept. Where both say something the kept record's word stands; lists are joined; what
    /// was learned about `{id}` (enrichment runs, sources and facts) and what happened with them
    /// (outcomes, simulations, matches asked for) moves to the kept record, which gets a new
    /// version (`merged`). `{id}` is then removed, announced as `persona.deleted` with
    /// `merged_into`. Both must be clients you may change; two different ids in one outside
    /// system answer 409.
    #[oai(path = "/:id/merge", method = "post")]
    async fn merge(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        body: Json<MergeRequest>,
    ) -> Result<Json<Persona>, ApiError> {
        merge(&state, &auth.0, id.0, body.0.into).await.map(Json)
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

/// Merges `absorbed` into `kept` for `caller`: the kept client as merged. The API's and the
/// workspace's merge.
pub(crate) async fn merge(
    state: &ApiState,
    caller: &Principal,
    absorbed: Uuid,
    kept: Uuid,
) -> Result<Persona, ApiError> {
    // Unseen ids first, so another brokerage's ids answer as unknown ones do.
    visible(state, caller, absorbed).await?;
    visible(state, caller, kept).await?;
    if absorbed == kept {
        return Err(ApiError::BrokenRule(vec![Violation {
            pointer: "/into".into(),
            detail: "`/into` is the client being merged: name the other record, the one to keep"
                .into(),
        }]));
    }
    // Boxed: the merge future (one transaction per database driver) is large.
    match Box::pin(state.store.merge_personas(caller, absorbed, kept)).await? {
        Ok(persona) => Ok(persona),
        Err(MergeRefused::NotFound(id)) => Err(ApiError::NotFound(format!("persona {id}"))),
        Err(MergeRefused::NotYours(id)) => Err(ApiError::Forbidden(format!(
            "persona {id} belongs to another agent: they, or a team lead, can merge it"
        ))),
        Err(MergeRefused::Conflict(why)) => Err(ApiError::Conflict(why)),
        Err(MergeRefused::Moved) => Err(ApiError::Conflict(
            "one of the two records changed while they were being merged; try again".into(),
        )),
    }
}
