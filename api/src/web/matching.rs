//! Matching in the workspace: find the clients for a listing or the listings for a client (a
//! match run, queued like the API's), the ranked recommendations with each score's breakdown,
//! the constraints passed, highlights and the outreach suggestion, feedback buttons, and the
//! runs (the nightly ones carry each night's new matches).

use maud::{Markup, html};
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;
use troupe_shared::domain::{FeedbackOutcome, MatchDirection, MatchRun, MatchRunStatus};
use uuid::Uuid;

use super::{
    charts::{self, Part},
    error::{PageError, render},
    layout::{self, Section},
    session::SignedIn,
};
use crate::{
    ApiState,
    audit::ReadVia,
    matching::{audit_recommendations_read, default_params, queue_run},
};

/// A form that carries nothing but its CSRF token (a button).
#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// Queues a run for a listing or a client the person may see, then shows it.
async fn start(
    req: &Request,
    state: &ApiState,
    direction: MatchDirection,
    subject: Uuid,
    csrf: &str,
) -> Result<Response, PageError> {
    let me = SignedIn::from_request(req).await?;
    me.check_csrf(csrf)?;
    let found = match direction {
        MatchDirection::PropertyToClients => state
            .store
            .get_property(me.principal.brokerage_id, subject)
            .await?
            .is_some(),
        _ => state
            .store
            .get_persona(&me.principal, subject)
            .await?
            .is_some_and(|p| !p.synthetic),
    };
    if !found {
        return Err(PageError::not_found(format!(
            "{} {subject}",
            if direction == MatchDirection::PropertyToClients {
                "listing"
            } else {
                "client"
            }
        )));
    }
    let params = default_params(&me.principal);
    let run = queue_run(state, &me.principal, direction, subject, params, None).await?;
    Ok(layout::see_other(&format!("/matching/{}", run.id)))
}

#[handler]
pub async fn for_listing(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Response {
    render(start(
        req,
        &state,
        MatchDirection::PropertyToClients,
        id,
        &form.csrf,
    ))
    .await
}

#[handler]
pub async fn for_client(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Response {
    render(start(
        req,
        &state,
        MatchDirection::ClientToProperties,
        id,
        &form.csrf,
    ))
    .await
}

fn direction_words(run: &MatchRun) -> &'static str {
    match run.direction {
        MatchDirection::PropertyToClients => "Clients for a listing",
        MatchDirection::ClientToProperties => "Listings for a client",
        MatchDirection::Nightly => "Nightly run: new matches",
    }
}

#[handler]
pub async fn run_list(req: &Request, state: Data<&ApiState>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let runs = state.store.list_match_runs(&me.principal, None, None, 50).await?;
        let body = html! {
            h1 { "Matching" }
            p.actions { a href="/matching/nightly" { "The nightly feed: new matches, night by night" } }
            p.muted { "Runs newest first. The nightly run matches what changed since the night before; its page lists the new matches." }
            @if runs.is_empty() {
                div.empty { p { "No matches yet. Open a listing and choose " strong { "Find clients" } ", or a client and choose " strong { "Find listings" } "." } }
            } @else {
                table data-table="match-runs" {
                    thead { tr { th { "Started" } th { "What" } th { "Status" } th { "Pairs scored" } } }
                    tbody {
                        @for run in &runs {
                            tr {
                                td { a href={ "/matching/" (run.id) } { (run.created_at.format("%Y-%m-%d %H:%M")) } }
                                td { (direction_words(run)) }
                                td { span class={ "status status-" (run.status.as_str()) } { (run.status.as_str()) } }
                                td.number { (run.pairs_scored) }
                            }
                        }
                    }
                }
            }
        };
        Ok(layout::page(&me, Section::Matching, "Matching", body))
    })
    .await
}

/// Matches a listing's or a client's page shows from its latest run.
const LATEST_SHOWN: usize = 5;

/// The latest match run about a listing or a client, its best matches first, for their page.
pub async fn latest_about(
    state: &ApiState,
    me: &SignedIn,
    subject: Uuid,
    subject_is_listing: bool,
) -> Result<Markup, PageError> {
    let Some(run) = state
        .store
        .latest_match_run_about(&me.principal, subject)
        .await?
    else {
        return Ok(html! {
            p { "Not matched yet: " strong { @if subject_is_listing { "Find clients" } @else { "Find listings" } } " ranks them." }
        });
    };
    let matches = state.store.recommendations(&me.principal, run.id).await?;
    let shown = matches.iter().take(LATEST_SHOWN);
    audit_recommendations_read(state, &me.principal, run.id, shown, ReadVia::Web).await?;
    Ok(html! {
        p.muted { "From the run of " a href={ "/matching/" (run.id) } { (run.created_at.format("%Y-%m-%d %H:%M UTC")) } " (" (run.status.as_str()) ")." }
        @if matches.is_empty() {
            p { "No match scored " (format!("{:.0}%", run.params.min_score * 100.0)) " or more." }
        } @else {
            table data-table="latest-matches" {
                thead { tr { th { @if subject_is_listing { "Client" } @else { "Listing" } } th { "Score" } th { "Why" } } }
                tbody { @for rec in matches.iter().take(LATEST_SHOWN) {
                    tr {
                        td { @if subject_is_listing { a href={ "/clients/" (rec.persona_id) } { (rec.detail.persona_name) } } @else { a href={ "/listings/" (rec.property_id) } { (rec.detail.property_title) } } }
                        td.number { (format!("{:.0}%", rec.score * 100.0)) }
                        td { (rec.detail.explanation) }
                    }
                } }
            }
            @if matches.len() > LATEST_SHOWN { p { a href={ "/matching/" (run.id) } { "All " (matches.len()) " matches" } } }
        }
    })
}

/// Nights the feed shows.
const FEED_NIGHTS: u32 = 7;

/// The nightly runs' new matches, newest night first: who to call about what this morning.
#[handler]
pub async fn nightly_feed(req: &Request, state: Data<&ApiState>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let nights = state
            .store
            .list_match_runs(&me.principal, Some(MatchDirection::Nightly), None, FEED_NIGHTS)
            .await?;
        let mut feed = Vec::new();
        for run in nights.into_iter().take(FEED_NIGHTS as usize) {
            let matches = state.store.recommendations(&me.principal, run.id).await?;
            audit_recommendations_read(&state, &me.principal, run.id, &matches, ReadVia::Web)
                .await?;
            feed.push((run, matches));
        }
        let body = html! {
            p.crumbs { a href="/matching" { "Matching" } " / nightly feed" }
            h1 { "New matches, night by night" }
            p.muted { "Each night Troupe matches the clients and listings that changed since the night before. Only clients you may see are listed." }
            @if feed.is_empty() {
                div.empty { p { "No nightly run yet: the scheduler runs one at " code { "TROUPE_MATCHING_CRON" } " (02:00 UTC by default)." } }
            }
            @for (run, matches) in &feed {
                section.night {
                    h2 { a href={ "/matching/" (run.id) } { (run.created_at.format("%A %e %B %Y")) } }
                    @if matches!(run.status, MatchRunStatus::Pending | MatchRunStatus::Running) {
                        p { "Still scoring." }
                    } @else if let Some(error) = &run.error {
                        p.alert role="alert" { "The run failed: " (error) }
                    } @else if matches.is_empty() {
                        p.muted { "No new match that night (" (run.pairs_scored) " pairs scored)." }
                    } @else {
                        table data-table="nightly-matches" {
                            thead { tr { th { "Client" } th { "Listing" } th { "Score" } th { "Why now" } th { "Reach out" } } }
                            tbody { @for rec in matches {
                                tr {
                                    td { a href={ "/clients/" (rec.persona_id) } { (rec.detail.persona_name) } }
                                    td { a href={ "/listings/" (rec.property_id) } { (rec.detail.property_title) } }
                                    td.number { (format!("{:.0}%", rec.score * 100.0)) }
                                    td { (rec.detail.change.as_deref().unwrap_or(rec.detail.explanation.as_str())) }
                                    td { (rec.detail.outreach.channel) ", " (rec.detail.outreach.timing) }
                                }
                            } }
                        }
                    }
                }
            }
        };
        Ok(layout::page(&me, Section::Matching, "Nightly feed", body))
    })
    .await
}

const OUTCOMES: [(FeedbackOutcome, &str); 5] = [
    (FeedbackOutcome::Sent, "Sent"),
    (FeedbackOutcome::Interested, "Interested"),
    (FeedbackOutcome::NotInterested, "Not interested"),
    (FeedbackOutcome::Viewed, "Viewed"),
    (FeedbackOutcome::Offer, "Offer"),
];

#[handler]
pub async fn run_page(req: &Request, state: Data<&ApiState>, Path(id): Path<Uuid>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let run = state
            .store
            .match_run_for(&me.principal, id)
            .await?
            .ok_or_else(|| PageError::not_found(format!("match run {id}")))?;
        let recommendations = state.store.recommendations(&me.principal, id).await?;
        let near_misses = state.store.near_misses(&me.principal, id).await?;
        let shown = recommendations.iter().chain(&near_misses);
        audit_recommendations_read(&state, &me.principal, id, shown, ReadVia::Web).await?;
        let unfinished = matches!(run.status, MatchRunStatus::Pending | MatchRunStatus::Running);
        let clients_listed = run.direction != MatchDirection::ClientToProperties;
        let body = html! {
            p.crumbs { a href="/matching" { "Matching" } " / " (run.id) }
            h1 { (direction_words(&run)) }
            p { span class={ "status status-" (run.status.as_str()) } { (run.status.as_str()) } " · " (run.pairs_scored) " pairs scored · started " (run.created_at.format("%Y-%m-%d %H:%M UTC")) }
            @if let Some(error) = &run.error { p.alert role="alert" { (error) } }
            @if unfinished {
                p aria-live="polite" { "Scoring… the matches appear here when the run ends." }
            } @else if recommendations.is_empty() {
                div.empty { p { "No match scored " (format!("{:.0}%", run.params.min_score * 100.0)) " or more." } }
            }
            ol.matches {
                @for rec in &recommendations {
                    li.match id={ "rec-" (rec.id) } data-score=(rec.score) {
                        h2 {
                            (rec.rank) ". "
                            @if clients_listed {
                                a href={ "/clients/" (rec.persona_id) } { (rec.detail.persona_name) }
                                " for " a href={ "/listings/" (rec.property_id) } { (rec.detail.property_title) }
                            } @else {
                                a href={ "/listings/" (rec.property_id) } { (rec.detail.property_title) }
                                " for " a href={ "/clients/" (rec.persona_id) } { (rec.detail.persona_name) }
                            }
                            " · " span.score { (format!("{:.0}%", rec.score * 100.0)) }
                        }
                        @if let Some(change) = &rec.detail.change { p.muted { (change) } }
                        @let parts: Vec<Part<'_>> = rec.detail.components.iter().map(|c| Part { name: &c.name, contribution: c.contribution, detail: &c.detail }).collect();
                        figure { (charts::breakdown(&format!("score-{}", rec.id), "What the score is made of", &parts)) }
                        details {
                            summary { "The numbers" }
                            table data-table="score" {
                                thead { tr { th { "Part" } th { "Value" } th { "Weight" } th { "Adds" } th { "Why" } } }
                                tbody { @for c in &rec.detail.components {
                                    tr { td { (c.name) } td { (format!("{:.2}", c.value)) } td { (format!("{:.2}", c.weight)) } td { (format!("{:+.2}", c.contribution)) } td { (c.detail) } }
                                } }
                            }
                        }
                        p { (rec.detail.explanation) }
                        @if !rec.detail.constraints_passed.is_empty() {
                            p { strong { "Passes: " } (rec.detail.constraints_passed.iter().map(|c| format!("{} ({})", c.name, c.detail)).collect::<Vec<_>>().join("; ")) }
                        }
                        @if !rec.detail.highlights.is_empty() {
                            p { strong { "Show them: " } (rec.detail.highlights.join("; ")) }
                        }
                        p { strong { "Reach out: " } (rec.detail.outreach.channel) ", " (rec.detail.outreach.timing) " — “" (rec.detail.outreach.opening_line) "”" }
                        @if !rec.feedback.is_empty() {
                            p.muted { "Feedback so far: " (rec.feedback.iter().map(|f| f.outcome.as_str().replace('_', " ")).collect::<Vec<_>>().join(", ")) }
                        }
                        form.feedback method="post" action={ "/matching/recommendations/" (rec.id) "/feedback" } {
                            input type="hidden" name="csrf" value=(me.csrf_token);
                            input type="hidden" name="run" value=(run.id);
                            label for={ "reason-" (rec.id) } { "In the client's words (optional)" }
                            input id={ "reason-" (rec.id) } type="text" name="reason" maxlength="1000";
                            @for (outcome, label) in OUTCOMES {
                                button type="submit" name="outcome" value=(outcome.as_str()) { (label) }
                            }
                        }
                    }
                }
            }
            @if !near_misses.is_empty() {
                h2 id="near-misses" { "Near misses" }
                p.muted { "Each would match but for one hard constraint; you may call anyway." }
                table data-table="near-misses" {
                    thead { tr { th { "Client" } th { "Listing" } th { "Score" } th { "Kept out by" } } }
                    tbody { @for miss in &near_misses {
                        tr {
                            td { a href={ "/clients/" (miss.persona_id) } { (miss.detail.persona_name) } }
                            td { a href={ "/listings/" (miss.property_id) } { (miss.detail.property_title) } }
                            td { (format!("{:.0}%", miss.score * 100.0)) }
                            td { @if let Some(missed) = &miss.detail.missed { (missed.detail) } }
                        }
                    } }
                }
            }
        };
        Ok(layout::waiting(&me, Section::Matching, direction_words(&run), body, unfinished))
    })
    .await
}

#[derive(Deserialize)]
pub struct FeedbackForm {
    csrf: String,
    run: Uuid,
    outcome: String,
    reason: Option<String>,
}

#[handler]
pub async fn feedback(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    Form(form): Form<FeedbackForm>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        me.check_csrf(&form.csrf)?;
        let outcome = FeedbackOutcome::parse(&form.outcome).ok_or_else(|| {
            PageError::BadForm(format!("{:?} is not a feedback outcome", form.outcome))
        })?;
        let reason = form
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > 1000) {
            return Err(PageError::BadForm(
                "the reason can have at most 1000 characters".into(),
            ));
        }
        state
            .store
            .add_match_feedback(&me.principal, id, outcome, reason)
            .await?
            .ok_or_else(|| PageError::not_found(format!("recommendation {id}")))?;
        Ok(layout::see_other(&format!(
            "/matching/{}#rec-{id}",
            form.run
        )))
    })
    .await
}
