//! Simulations: the list, a live page while one runs, its results as charts and tables, the
//! seller's printable report and each table as CSV.

use std::collections::HashMap;

use maud::{Markup, html};
use poem::{
    Request, Response, handler,
    http::StatusCode,
    web::{Data, Path, Query, Redirect},
};
use serde::Deserialize;
use troupe_shared::{
    domain::{
        Property, SimulationFilter, SimulationKind, SimulationPlan, SimulationStatus, capitalised,
    },
    store::SimulationRecord,
};
use uuid::Uuid;

use super::{
    calibration,
    error::{PageError, id_param, render},
    layout::{self, Section},
    results::{self, Finding},
    session::SignedIn,
    simulation_outcomes,
};
use crate::{
    ApiState,
    audit::{Listed, ReadVia, audit_listed},
    simulations::{calibrated_results, read_results},
};

const PAGE: u32 = 50;

#[handler]
pub fn home() -> Redirect {
    Redirect::see_other("/simulations")
}

#[derive(Deserialize)]
pub struct ListQuery {
    kind: Option<String>,
    status: Option<String>,
    listing: Option<String>,
    author: Option<String>,
    before: Option<String>,
}

/// `""` (the form's "any") is no filter; anything else must name a value.
fn choice<T>(
    raw: Option<&str>,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Result<Option<T>, PageError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(raw) => parse(raw)
            .map(Some)
            .ok_or_else(|| PageError::BadForm(format!("{raw:?} is not a simulation {what}"))),
    }
}

#[handler]
pub async fn list(
    req: &Request,
    state: Data<&ApiState>,
    Query(query): Query<ListQuery>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let filter = SimulationFilter {
            kind: choice(query.kind.as_deref(), SimulationKind::parse, "kind")?,
            status: choice(query.status.as_deref(), SimulationStatus::parse, "status")?,
            property_id: id_param(query.listing.as_deref(), "listing")?,
            created_by: id_param(query.author.as_deref(), "person")?,
            before: id_param(query.before.as_deref(), "simulation")?,
            limit: PAGE,
            ..SimulationFilter::default()
        };
        let mut items = state.store.list_simulations(&me.principal, &filter).await?;
        let more = items.len() > PAGE as usize;
        items.truncate(PAGE as usize);
        let listed = items.iter().map(|s| s.id);
        audit_listed(&state, &me.principal, Listed::Simulations, listed, ReadVia::Web).await?;
        let listings = titles(&state, me.principal.brokerage_id, items.iter().filter_map(|s| s.property_id)).await?;
        let people = people(&state, me.principal.brokerage_id).await?;
        let filtered = filter.kind.is_some()
            || filter.status.is_some()
            || filter.property_id.is_some()
            || filter.created_by.is_some();
        let body = html! {
            h1 { "Simulations" }
            p.actions { a href="/simulations/new" { "New simulation" } }
            form.filters method="get" action="/simulations" {
                label { "Kind "
                    select name="kind" {
                        option value="" { "any" }
                        @for kind in SimulationKind::ALL {
                            option value=(kind.as_str()) selected[filter.kind == Some(*kind)] { (kind.as_str().replace('_', " ")) }
                        }
                    }
                }
                label { "Status "
                    select name="status" {
                        option value="" { "any" }
                        @for status in SimulationStatus::ALL {
                            option value=(status.as_str()) selected[filter.status == Some(*status)] { (status.as_str()) }
                        }
                    }
                }
                label { "Author "
                    select name="author" {
                        option value="" { "anyone" }
                        @for (id, name) in &people {
                            option value=(id) selected[filter.created_by == Some(*id)] { (name) }
                        }
                    }
                }
                @if let Some(listing) = filter.property_id {
                    input type="hidden" name="listing" value=(listing);
                }
                button type="submit" { "Filter" }
            }
            @if items.is_empty() {
                div.empty {
                    @if filtered {
                        p { "No simulation matches these filters." }
                    } @else {
                        p { "No simulations yet. " a href="/listings/new" { "Add a listing" } " and " a href="/clients/new" { "some clients" } ", then "
                            a href="/simulations/new" { "start a simulation" } ": a focus group from the listing's page, a marketing or outreach test, or one client's reaction." }
                    }
                }
            } @else {
                table data-table="simulations" {
                    caption.visually-hidden { "Simulations, newest first" }
                    thead { tr { th { "Created" } th { "Kind" } th { "Listing" } th { "Status" } th { "Author" } th { "Summary" } } }
                    tbody {
                        @for s in &items {
                            tr {
                                td { a href={ "/simulations/" (s.id) } { (s.created_at.format("%Y-%m-%d %H:%M")) } }
                                td { (s.kind.as_str().replace('_', " ")) }
                                td { @if let Some(p) = s.property_id { a href={ "/listings/" (p) } { (listings.get(&p).map_or("(deleted listing)", String::as_str)) } } }
                                td { span class={ "status status-" (s.status.as_str()) } { (s.status.as_str()) } }
                                td { (people.iter().find(|(id, _)| *id == s.created_by).map_or("—", |(_, n)| n.as_str())) }
                                td { (s.summary.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                @if more {
                    p { a href=(older_page(&filter, items.last().map(|s| s.id))) { "Older simulations" } }
                }
            }
        };
        Ok(layout::page(&me, Section::Simulations, "Simulations", body))
    })
    .await
}

/// The next page of the list, with the same filters.
fn older_page(filter: &SimulationFilter, last: Option<Uuid>) -> String {
    let mut link = form_urlencoded::Serializer::new(String::new());
    let text = |v: Option<Uuid>| v.map(|id| id.to_string()).unwrap_or_default();
    link.append_pair("before", &text(last))
        .append_pair("kind", filter.kind.map_or("", SimulationKind::as_str))
        .append_pair("status", filter.status.map_or("", SimulationStatus::as_str))
        .append_pair("listing", &text(filter.property_id))
        .append_pair("author", &text(filter.created_by));
    format!("/simulations?{}", link.finish())
}

/// Listing titles by id.
async fn titles(
    state: &ApiState,
    brokerage_id: Uuid,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, PageError> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found: Vec<Property> = state.store.properties_by_ids(brokerage_id, &ids).await?;
    Ok(found.into_iter().map(|p| (p.id, p.details.title)).collect())
}

/// The brokerage's people by id, in the order they joined.
async fn people(state: &ApiState, brokerage_id: Uuid) -> Result<Vec<(Uuid, String)>, PageError> {
    let users = state.store.list_users(brokerage_id, None, 1000).await?;
    Ok(users.into_iter().map(|u| (u.id, u.name)).collect())
}

/// A simulation the signed-in person may see, its read audited as the API's results read is.
async fn visible_record(
    state: &ApiState,
    me: &SignedIn,
    id: Uuid,
) -> Result<SimulationRecord, PageError> {
    Ok(read_results(state, &me.principal, id, ReadVia::Web).await?)
}

fn currency(plan: &SimulationPlan) -> &str {
    match plan {
        SimulationPlan::FocusGroup(plan) => &plan.property.currency,
        _ => "USD",
    }
}

fn listing_title(plan: &SimulationPlan) -> Option<&str> {
    match plan {
        SimulationPlan::FocusGroup(plan) => Some(&plan.property.title),
        _ => None,
    }
}

#[handler]
pub async fn page(req: &Request, state: Data<&ApiState>, Path(id): Path<Uuid>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let record = visible_record(&state, &me, id).await?;
        let calibrated = calibrated_results(&state, &record).await?;
        let s = &record.simulation;
        let title = format!(
            "{} {}",
            s.kind.as_str().replace('_', " "),
            listing_title(&record.plan).map(|t| format!("on {t}")).unwrap_or_default()
        );
        let running = matches!(s.status, SimulationStatus::Pending | SimulationStatus::Running);
        let body = html! {
            p.crumbs { a href="/simulations" { "Simulations" } " / " (s.id) }
            h1 { (capitalised(&title)) }
            p {
                span class={ "status status-" (s.status.as_str()) } data-status=(s.status.as_str()) { (s.status.as_str()) }
                " · created " (s.created_at.format("%Y-%m-%d %H:%M UTC"))
                @if let Some(p) = s.property_id { " · " a href={ "/listings/" (p) } { "the listing" } }
                @if s.status == SimulationStatus::Completed || s.status == SimulationStatus::Cancelled {
                    " · " a href={ "/simulations/" (s.id) "/report" } { "Seller report" }
                }
            }
            (offline_label(&record))
            // Finished runs repeat their warnings with the findings they qualify.
            @if record.results.is_none() {
                @for warning in &s.warnings { p.warning role="note" { (warning) } }
            }
            @if let Some(error) = &s.error { p.alert role="alert" { "This simulation failed: " (error) } }
            @if running {
                (live(s.id, s.progress.done, s.progress.failed, s.progress.total))
            } @else if let Some(results) = &record.results {
                (recommendations(results))
                @for finding in results::findings(s.kind, results, currency(&record.plan)) {
                    (finding_section(s.id, &finding))
                }
                @if let Some(calibrated) = &calibrated { (calibration::results_section(calibrated)) }
                @if s.status == SimulationStatus::Completed { (simulation_outcomes::section(&record, &me)) }
                @if !results.failed_steps.is_empty() {
                    section {
                        h2 { "Steps that did not answer" }
                        table data-table="failed-steps" {
                            thead { tr { th { "Persona" } th { "Step" } th { "Steps" } th { "Why" } } }
                            tbody { @for f in &results.failed_steps { tr { td { (f.persona_name.as_deref().unwrap_or("—")) } td { (f.step) } td { (f.steps) } td { (f.reason) } } } }
                        }
                    }
                }
                (metadata(&record))
            }
        };
        Ok(layout::page(&me, Section::Simulations, &capitalised(&title), body))
    })
    .await
}

/// Progress and answers as they arrive, kept current by `/assets/live.js` over the WebSocket.
fn live(id: Uuid, done: i64, failed: i64, total: i64) -> Markup {
    html! {
        section #live data-simulation=(id) {
            h2 { "Running" }
            p {
                label for="progress" { "Steps answered: " }
                progress #progress max=(total.max(1)) value=(done + failed) { (done + failed) " of " (total) }
                " " span #progress-text { (done) " answered, " (failed) " failed, of " (total) }
            }
            p.muted #live-state aria-live="polite" { "Connecting for live updates…" }
            h3 { "Answers as they arrive" }
            ol #answers aria-live="polite" {}
        }
        script src="/assets/live.js" defer {}
    }
}

fn offline_label(record: &SimulationRecord) -> Markup {
    let offline = record
        .metadata
        .as_ref()
        .is_some_and(|m| m.provider == "offline");
    html! {
        @if offline {
            p.baseline role="note" data-provider="offline" {
                strong { "Offline baseline. " }
                "These answers come from Troupe's built-in rule-based persona model, not a language model: use them to try the workflow, not to decide."
            }
        }
    }
}

fn recommendations(results: &troupe_shared::domain::SimulationResults) -> Markup {
    html! {
        section.recommendations {
            h2 { "What to do" }
            @if results.recommendations.is_empty() {
                p { "No finding was clear enough to recommend an action." }
            }
            ol {
                @for rec in &results.recommendations {
                    li { strong { (rec.title) } " — " (rec.detail) span.muted { " (confidence " (format!("{:.0}%", rec.confidence * 100.0)) ")" } }
                }
            }
            p.summary { (results.summary) }
            @for warning in &results.warnings { p.warning role="note" { (warning) } }
        }
    }
}

fn finding_section(id: Uuid, finding: &Finding) -> Markup {
    html! {
        section.finding {
            h2 { (finding.heading) }
            p.muted { (finding.reading) }
            @if let Some(chart) = &finding.chart { figure { (chart) } }
            @if let Some(table) = &finding.table {
                // A chart's numbers are one click away; a long table alone opens on request.
                @if finding.chart.is_some() {
                    details open[table.rows.len() <= 12] {
                        summary { "The numbers" }
                        (table_markup(table))
                    }
                } @else if table.rows.len() > 12 {
                    details {
                        summary { "Show all " (table.rows.len()) " rows" }
                        (table_markup(table))
                    }
                } @else {
                    (table_markup(table))
                }
                p { a.download href={ "/simulations/" (id) "/tables/" (table.name) ".csv" } download { "Download " (table.name) ".csv" } }
            }
        }
    }
}

fn table_markup(table: &results::Table) -> Markup {
    html! {
        div.scroll {
            table data-table=(table.name) {
                thead { tr { @for h in &table.headers { th scope="col" { (h) } } } }
                tbody { @for row in &table.rows { tr { @for cell in row { td { (cell) } } } } }
            }
        }
    }
}

fn metadata(record: &SimulationRecord) -> Markup {
    html! {
        @if let Some(m) = &record.metadata {
            section.metadata {
                h2 { "How this was produced" }
                dl {
                    dt { "Provider" } dd data-field="provider" { (m.provider) }
                    dt { "Model" } dd data-field="model" { (m.model_version) }
                    dt { "Model calls" } dd { (m.llm_calls) " (" (m.cache_hits) " answered from the cache, " (m.retries) " retried)" }
                    dt { "Tokens" } dd { (m.tokens_used) " of a budget of " (m.token_budget) }
                    dt { "Cost" } dd { (format!("${:.4}", m.cost_estimate_usd)) }
                    dt { "Failed steps" } dd { (m.failed_steps) }
                    dt { "Self-contradicting replies" } dd data-field="contradictions" {
                        (m.repaired_replies) " repaired when asked again, " (m.rejected_replies) " rejected"
                    }
                    dt { "Compute time" } dd { (format!("{:.1} s", m.compute_time)) }
                }
            }
        }
    }
}

/// The focus group for the seller: findings in plain words, printable to A4 or Letter.
#[handler]
pub async fn report(req: &Request, state: Data<&ApiState>, Path(id): Path<Uuid>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let record = visible_record(&state, &me, id).await?;
        let results = record
            .results
            .as_ref()
            .ok_or_else(|| PageError::not_found(format!("results of simulation {id}")))?;
        let title = listing_title(&record.plan).unwrap_or("Simulation");
        let findings = results::findings(record.simulation.kind, results, currency(&record.plan));
        let body = html! {
            article.report {
                h1 { (title) ": what buyers told us" }
                p.muted { "Prepared " (record.simulation.completed_at.unwrap_or(record.simulation.created_at).format("%e %B %Y")) " from a simulated panel of buyers." }
                (offline_label(&record))
                (recommendations(results))
                // Every answer is for the agent, not the seller: the report keeps to the findings.
                @for finding in findings.iter().filter(|f| f.table.as_ref().is_none_or(|t| t.name != "answers")) {
                    section.finding {
                        h2 { (finding.heading) }
                        p { (finding.reading) }
                        @if let Some(chart) = &finding.chart { figure { (chart) } }
                        @if let Some(table) = &finding.table { (table_markup(table)) }
                    }
                }
            }
        };
        Ok(layout::page(&me, Section::Simulations, &format!("Seller report: {title}"), body))
    })
    .await
}

#[handler]
pub async fn table_csv(
    req: &Request,
    state: Data<&ApiState>,
    Path((id, table)): Path<(Uuid, String)>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let record = visible_record(&state, &me, id).await?;
        let name = table.strip_suffix(".csv").unwrap_or(&table);
        let results = record
            .results
            .as_ref()
            .ok_or_else(|| PageError::not_found(format!("results of simulation {id}")))?;
        let found = results::findings(record.simulation.kind, results, currency(&record.plan))
            .into_iter()
            .filter_map(|f| f.table)
            .find(|t| t.name == name)
            .ok_or_else(|| PageError::not_found(format!("table {name:?} of simulation {id}")))?;
        Ok(Response::builder()
            .status(StatusCode::OK)
            .content_type("text/csv; charset=utf-8")
            .header(
                "content-disposition",
                format!("attachment; filename=\"{name}-{id}.csv\""),
            )
            .body(found.csv()))
    })
    .await
}
