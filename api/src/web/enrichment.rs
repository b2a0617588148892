//! "Paste a call transcript, a note or an email" on a client's page: learned from exactly as
//! `POST /api/v1/personas/{id}/enrich` (the same rule: only who may edit the client), then a page
//! that follows the run and, once merged, says what changed and links the
//! new version in the timeline.

use chrono::NaiveDate;
use maud::html;
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;
use troupe_shared::domain::{EnrichmentRequest, EnrichmentStatus, SourceIn, SourceKind};
use uuid::Uuid;

use super::{
    error::{PageError, render},
    layout::{self, Section},
    session::SignedIn,
};
use crate::{ApiState, enrichment::learn};

/// The kinds a person pastes (public information and logged interactions come through the API).
pub const PASTED: [(SourceKind, &str); 3] = [
    (SourceKind::Transcript, "Call or meeting transcript"),
    (SourceKind::Email, "Email"),
    (SourceKind::Note, "Note"),
];

#[derive(Deserialize)]
pub struct PastedSource {
    csrf: String,
    kind: String,
    content: String,
    occurred_on: Option<String>,
    author: Option<String>,
}

fn optional(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

#[handler]
pub async fn submit(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    Form(form): Form<PastedSource>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        me.check_csrf(&form.csrf)?;
        let kind = SourceKind::parse(&form.kind)
            .filter(|k| PASTED.iter().any(|(pasted, _)| pasted == k))
            .ok_or_else(|| {
                PageError::BadForm(format!(
                    "{:?} is not a kind of text to learn from",
                    form.kind
                ))
            })?;
        let occurred_on =
            match optional(form.occurred_on.as_deref()) {
                None => None,
                Some(date) => Some(date.parse::<NaiveDate>().map_err(|_| {
                    PageError::BadForm(format!("{date:?} is not a date (YYYY-MM-DD)"))
                })?),
            };
        let author = optional(form.author.as_deref()).map(str::to_owned);
        if author.as_ref().is_some_and(|a| a.chars().count() > 200) {
            return Err(PageError::BadForm(
                "the author can have at most 200 characters".into(),
            ));
        }
        let request = EnrichmentRequest {
            sources: vec![SourceIn {
                kind,
                content: form.content,
                occurred_on,
                author,
                title: None,
            }],
            ..EnrichmentRequest::default()
        };
        let (run, _) = learn(&state, &me.principal, id, request).await?;
        Ok(layout::see_other(&format!(
            "/clients/{id}/enrichments/{}",
            run.id
        )))
    })
    .await
}

#[handler]
pub async fn status(
    req: &Request,
    state: Data<&ApiState>,
    Path((id, run_id)): Path<(Uuid, Uuid)>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let run = state
            .store
            .enrichment(&me.principal, id, run_id)
            .await?
            .ok_or_else(|| PageError::not_found(format!("enrichment {run_id}")))?;
        let unfinished = matches!(run.status, EnrichmentStatus::Queued | EnrichmentStatus::Running);
        let body = html! {
            p.crumbs { a href="/clients" { "Clients" } " / " a href={ "/clients/" (id) } { "the client" } " / learning" }
            h1 { "Learning from " (run.sources.len()) " source" @if run.sources.len() != 1 { "s" } }
            p { span class={ "status status-" (run.status.as_str()) } data-status=(run.status.as_str()) { (run.status.as_str()) }
                @if let Some(extractor) = &run.extractor { " · read by " (extractor) } }
            @if unfinished { p aria-live="polite" { "Reading… what was learned appears here when it is merged." } }
            @if let Some(error) = &run.error { p.alert role="alert" { (error) } }
            @if let Some(facts) = &run.facts {
                p { (facts.applied) " facts applied, " (facts.superseded) " superseded, " (facts.outweighed) " outweighed by stronger evidence, " (facts.rejected) " rejected." }
            }
            @let changed = run.facts.as_ref().is_some_and(|f| f.applied + f.superseded > 0);
            @if let (Some(version), true) = (run.version, changed) {
                p { "The profile is now at " a href={ "/clients/" (id) "#version-" (version) } { "version " (version) } "." }
            } @else if run.status == EnrichmentStatus::Completed {
                p { "Nothing new: the profile is unchanged. " a href={ "/clients/" (id) } { "Back to the client" } }
            }
        };
        Ok(layout::waiting(&me, Section::Clients, "Learning", body, unfinished))
    })
    .await
}
