//! `/api/v1/personas/{id}/enrich` and what enrichment produces: facts with their provenance, and
//! the insights computed from them.

use chrono::{NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use serde_json::{Value, json};
use troupe_shared::{
    auth::Principal,
    domain::{Enrichment, EnrichmentRequest, Fact, PersonaInsights, SourceKind},
    jobs::{EnrichmentJob, RequestedJob},
    store::{EnrichmentSubmitted, NewSource},
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags,
    auth::ApiKey,
    insights,
    personas::{audit, visible, writable},
    problem::ApiError,
};

/// Sources one request may carry, all kinds together.
const MAX_SOURCES: usize = 120;

#[derive(ApiResponse)]
enum Submitted {
    /// Queued; poll the `Location`, or watch `/ws/personas/{id}` for `persona.enriched`.
    #[oai(status = 202)]
    Queued(Json<Enrichment>, #[oai(header = "Location")] String),
    /// Every source was submitted before: the run that learned from them.
    #[oai(status = 200)]
    AlreadyKnown(Json<Enrichment>, #[oai(header = "Location")] String),
}

pub struct EnrichmentApi;

#[OpenApi(prefix_path = "/personas", tag = "ApiTags::Personas")]
impl EnrichmentApi {
    /// Learn from notes, transcripts, emails, public information and logged interactions. The
    /// sources are stored encrypted; a worker extracts facts (with the model, or the offline
    /// rules) and merges them into the persona as a new version. A source submitted again is not
    /// learned twice.
    #[oai(path = "/:id/enrich", method = "post")]
    async fn enrich(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        body: Json<EnrichmentRequest>,
    ) -> Result<Submitted, ApiError> {
        let (run, queued) = learn(&state, &auth.0, id.0, body.0).await?;
        let location = format!("/api/v1/personas/{}/enrichments/{}", id.0, run.id);
        Ok(if queued {
            Submitted::Queued(Json(run), location)
        } else {
            Submitted::AlreadyKnown(Json(run), location)
        })
    }

    /// One enrichment run: its sources (without their text), status and what it found.
    #[oai(path = "/:id/enrichments/:enrichment_id", method = "get")]
    async fn enrichment(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        enrichment_id: Path<Uuid>,
    ) -> Result<Json<Enrichment>, ApiError> {
        state
            .store
            .enrichment(&auth.0, id.0, enrichment_id.0)
            .await?
            .map(Json)
            .ok_or_else(|| ApiError::NotFound(format!("enrichment {}", enrichment_id.0)))
    }

    /// Every fact learned about the client, oldest first: what it says, the source and the
    /// quoted words it came from, its confidence, and whether it holds (`applied`), was
    /// replaced (`superseded`), lost to a newer fact (`outweighed`) or failed a check
    /// (`rejected`).
    #[oai(path = "/:id/facts", method = "get")]
    async fn facts(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<Vec<Fact>>, ApiError> {
        let persona = visible(&state, &auth.0, id.0).await?;
        audit(
            &state,
            &auth.0,
            "persona.read",
            persona.id,
            json!({ "facts": true }),
        )
        .await?;
        Ok(Json(state.store.persona_facts(&auth.0, persona.id).await?))
    }

    /// Predictive interest: the client's rising and fading interests from the timeline, and
    /// what they are likely to take up next, from what other clients of the brokerage did.
    #[oai(path = "/:id/insights", method = "get")]
    async fn insights(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<PersonaInsights>, ApiError> {
        let persona = visible(&state, &auth.0, id.0).await?;
        audit(
            &state,
            &auth.0,
            "persona.read",
            persona.id,
            json!({ "insights": true }),
        )
        .await?;
        client_insights(&state, &auth.0, persona.id).await.map(Json)
    }
}

/// A visible client's rising and fading interests and what they may take up next (the caller
/// audits the read).
pub(crate) async fn client_insights(
    state: &ApiState,
    caller: &Principal,
    persona_id: Uuid,
) -> Result<PersonaInsights, ApiError> {
    let facts = state.store.persona_facts(caller, persona_id).await?;
    let (mut insights, held) = insights::trends(persona_id, &facts, Utc::now().date_naive());
    let timeline = state.store.interest_timeline(caller, &held).await?;
    insights.next_likely = insights::predict(persona_id, &held, &timeline);
    Ok(insights)
}

/// Stores the sources of an enrichment of a persona the caller may change and queues it; `false`
/// with the earlier run when every source was learned from before. The workspace's "paste a
/// transcript" form comes through here too.
pub(crate) async fn learn(
    state: &ApiState,
    caller: &Principal,
    persona_id: Uuid,
    request: EnrichmentRequest,
) -> Result<(Enrichment, bool), ApiError> {
    let sources = sources_of(request)?;
    // Learning changes the persona: the same rule as editing it.
    writable(state, caller, persona_id).await?;
    let submitted = state
        .store
        .submit_enrichment(caller, persona_id, sources)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("persona {persona_id}")))?;
    match submitted {
        EnrichmentSubmitted::Queued(run, request) => {
            let job = EnrichmentJob::for_run(caller.brokerage_id, run.id);
            state
                .queues
                .enrichment
                .push_after_commit(job, request)
                .await;
            Ok((run, true))
        }
        EnrichmentSubmitted::AlreadyKnown(run) => Ok((run, false)),
    }
}

/// The request's sources, each within its kind's size limit.
fn sources_of(mut request: EnrichmentRequest) -> Result<Vec<NewSource>, ApiError> {
    let today = Utc::now().date_naive();
    // The PRD's `enrichment_data` nesting: its fields join the top-level ones.
    if let Some(nested) = request.enrichment_data.take() {
        request.public_info = match (request.public_info.take(), nested.public_info) {
            (Some(top), Some(inner)) => Some(serde_json::json!([top, inner])),
            (top, inner) => top.or(inner),
        };
        request.internal_notes = match (request.internal_notes.take(), nested.internal_notes) {
            (Some(top), Some(inner)) => Some(format!("{top}\n\n{inner}")),
            (top, inner) => top.or(inner),
        };
        request
            .interaction_history
            .extend(nested.interaction_history);
    }
    let mut sources = Vec::new();
    let untyped = |kind, content: String| NewSource {
        kind,
        content,
        occurred_on: today,
        author: None,
        title: None,
    };
    match request.public_info {
        Some(Value::String(text)) => sources.push(untyped(SourceKind::PublicInfo, text)),
        Some(Value::Null) | None => {}
        Some(other) => sources.push(untyped(SourceKind::PublicInfo, describe(&other))),
    }
    if let Some(notes) = request.internal_notes {
        sources.push(untyped(SourceKind::Note, notes));
    }
    for item in request.interaction_history {
        let on = item["date"]
            .as_str()
            .and_then(|d| d.get(..10))
            .and_then(|d| d.parse::<NaiveDate>().ok());
        sources.push(NewSource {
            occurred_on: on.unwrap_or(today),
            ..untyped(SourceKind::Interaction, describe(&item))
        });
    }
    for source in request.sources {
        sources.push(NewSource {
            kind: source.kind,
            content: source.content,
            occurred_on: source.occurred_on.unwrap_or(today),
            author: source.author,
            title: source.title,
        });
    }
    if sources.is_empty() {
        return Err(ApiError::Validation(
            "nothing to learn from: give public_info, internal_notes, interaction_history or sources"
                .into(),
        ));
    }
    if sources.len() > MAX_SOURCES {
        return Err(ApiError::Validation(format!(
            "{} sources in one request; at most {MAX_SOURCES}",
            sources.len()
        )));
    }
    for (index, source) in sources.iter().enumerate() {
        let limit = source.kind.max_bytes();
        if source.content.trim().is_empty() {
            return Err(ApiError::Validation(format!("source {index} is empty")));
        }
        if source.content.len() > limit {
            return Err(ApiError::Validation(format!(
                "source {index} ({}) is {} bytes; a {} may be at most {limit} bytes",
                source.kind.as_str(),
                source.content.len(),
                source.kind.as_str(),
            )));
        }
        if source.occurred_on > today + chrono::Days::new(1) {
            return Err(ApiError::Validation(format!(
                "source {index} is dated {} — in the future",
                source.occurred_on
            )));
        }
    }
    Ok(sources)
}

/// A JSON object as the lines a reader (or the offline rules) can read: `key: value`.
fn describe(value: &Value) -> String {
    match value {
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
