//! The client book (stored personas; the factory's synthetic participants never appear) and a
//! client's page: the profile, the evolution timeline with its quoted evidence, and the
//! simulations they took part in. Reads are audited as the API's are.

use maud::{Markup, html};
use poem::{
    Request, Response, handler,
    web::{Data, Path, Query},
};
use serde::Deserialize;
use serde_json::{Value, json};
use troupe_shared::{
    domain::{Persona, PersonaInsights, SimulationFilter},
    store::{AuditRecord, PersonaFilter},
};
use uuid::Uuid;

use super::graph_drawing;
use super::{
    error::{PageError, id_param, render},
    layout::{self, Section},
    session::SignedIn,
};
use crate::{
    ApiState,
    audit::{Listed, ReadVia, audit_listed},
    enrichment::client_insights,
};

const PAGE: u32 = 50;

#[derive(Deserialize)]
pub struct BookQuery {
    q: Option<String>,
    segment: Option<String>,
    after: Option<String>,
}

#[handler]
pub async fn list(
    req: &Request,
    state: Data<&ApiState>,
    Query(query): Query<BookQuery>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let text = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if text.is_some_and(|q| q.chars().any(char::is_control) || q.len() > 200) {
            return Err(PageError::BadForm("search for up to 200 characters of plain text".into()));
        }
        let segment = query.segment.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let filter = PersonaFilter {
            segment: segment.map(str::to_owned),
            owner_id: None,
            team_id: None,
            visibility: None,
            text: text.map(str::to_owned),
            after: id_param(query.after.as_deref(), "page")?,
            limit: PAGE + 1,
            synthetic: false,
            email: None,
        };
        let mut clients = state.store.list_personas(&me.principal, &filter).await?;
        let more = clients.len() > PAGE as usize;
        clients.truncate(PAGE as usize);
        audit_listed(&state, &me.principal, Listed::Personas, clients.iter().map(|c| c.id), ReadVia::Web).await?;
        let body = html! {
            h1 { "Clients" }
            p.actions { a href="/clients/new" { "New client" } " · " a href="/clients/import" { "Import from a CRM" } " · " a href="/clients/duplicates" { "Likely duplicates" } }
            form.filters method="get" action="/clients" role="search" {
                label { "Search " input type="search" name="q" value=(text.unwrap_or("")) maxlength="200"; }
                label { "Segment " input type="text" name="segment" value=(segment.unwrap_or("")); }
                button type="submit" { "Search" }
            }
            @if clients.is_empty() {
                div.empty {
                    @if text.is_some() || segment.is_some() {
                        p { "No client matches this search." }
                    } @else {
                        p { "Your client book is empty. " a href="/clients/new" { "Add a client" } " or " a href="/clients/import" { "import a CRM export" } " (HubSpot, Salesforce or your own columns); each one keeps what your brokerage learns about them." }
                    }
                }
            } @else {
                table data-table="clients" {
                    thead { tr { th { "Name" } th { "Segment" } th { "Occupation" } th { "Budget" } th { "Visibility" } th { "Version" } } }
                    tbody {
                        @for p in &clients {
                            tr {
                                td { a href={ "/clients/" (p.id) } { (p.profile.name) } }
                                td { (p.profile.segment.as_deref().unwrap_or("—")) }
                                td { (p.profile.demographics.occupation.as_deref().unwrap_or("—")) }
                                td { (budget(p)) }
                                td { (p.visibility.as_str()) }
                                td { (p.version) }
                            }
                        }
                    }
                }
                @if more {
                    p { a href={ "/clients?after=" (clients.last().map(|p| p.id).unwrap_or_default()) "&q=" (text.unwrap_or("")) "&segment=" (segment.unwrap_or("")) } { "More clients" } }
                }
            }
        };
        Ok(layout::page(&me, Section::Clients, "Clients", body))
    })
    .await
}

fn budget(p: &Persona) -> String {
    let Some(budget) = &p.profile.preferences.budget else {
        return "—".into();
    };
    let money = |v: Option<f64>| v.map(troupe_shared::numbers::money);
    match (money(budget.min), money(budget.max)) {
        (Some(lo), Some(hi)) => format!("{lo} – {hi}"),
        (None, Some(hi)) => format!("up to {hi}"),
        (Some(lo), None) => format!("from {lo}"),
        (None, None) => "—".into(),
    }
}

#[handler]
pub async fn page(req: &Request, state: Data<&ApiState>, Path(id): Path<Uuid>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let persona = state
            .store
            .get_persona(&me.principal, id)
            .await?
            .filter(|p| !p.synthetic)
            .ok_or_else(|| PageError::not_found(format!("client {id}")))?;
        let detail = json!({ "version": persona.version, "history": true, "graph": true, "insights": true, "via": "web" });
        let record = AuditRecord::persona("persona.read", persona.id, detail);
        state.store.audit(&me.principal, record).await?;
        let history = state.store.persona_history(&me.principal, id).await?;
        let graph = state.store.persona_graph(&me.principal, id, 2).await?;
        let insights = client_insights(&state, &me.principal, id).await?;
        let matches = super::matching::latest_about(&state, &me, id, false).await?;
        let filter = SimulationFilter {
            persona_id: Some(id),
            limit: 20,
            ..SimulationFilter::default()
        };
        let simulations = state.store.list_simulations(&me.principal, &filter).await?;
        let listed = simulations.iter().map(|s| s.id);
        audit_listed(&state, &me.principal, Listed::Simulations, listed, ReadVia::Web).await?;
        let may_change = me.principal.may_change_client_of(persona.agent_id);
        let policy = state.store.deletion_policy(persona.brokerage_id).await?;
        let may_delete = me.principal.may_delete_client(&persona, policy);
        let profile = &persona.profile;
        let prefs = &profile.preferences;
        let places = state.store.list_places(persona.brokerage_id).await?;
        let conditions = troupe_shared::criteria::readings(prefs, &places);
        let body = html! {
            p.crumbs { a href="/clients" { "Clients" } " / " (profile.name) }
            h1 { (profile.name) }
            p.muted { (profile.segment.as_deref().unwrap_or("no segment")) " · visible to " (persona.visibility.as_str()) " · version " (persona.version) }
            @if let Some(bio) = &profile.biography { p { (bio) } }
            div.actions {
                form method="post" action={ "/clients/" (id) "/match" } {
                    input type="hidden" name="csrf" value=(me.csrf_token);
                    button.primary type="submit" { "Find listings" }
                }
                a.button href={ "/simulations/new/individual?client=" (id) } { "Simulate a reaction" }
                @if may_change {
                    a.button href={ "/clients/" (id) "/edit" } { "Edit" }
                }
                a.button href={ "/clients/" (id) "/export" } download { "Export everything held" }
                @if may_delete {
                    a.button href={ "/clients/" (id) "/delete" } { "Delete…" }
                }
            }
            section {
                h2 { "Profile" }
                dl {
                    dt { "Occupation" } dd { (profile.demographics.occupation.as_deref().unwrap_or("—")) }
                    dt { "Age" } dd { (profile.demographics.age_range.as_deref().unwrap_or("—")) }
                    dt { "Net worth" } dd { (profile.demographics.net_worth_range.as_deref().unwrap_or("—")) }
                    dt { "Budget" } dd { (budget(&persona)) }
                    dt { "Wants" } dd { (list_or_dash(&prefs.features)) }
                    dt { "Deal-breakers" } dd { (list_or_dash(&prefs.deal_breakers)) }
                    dt { "Places" } dd { (list_or_dash(&prefs.locations)) }
                    dt { "Property types" } dd { (list_or_dash(&prefs.property_types)) }
                }
                @if !conditions.is_empty() {
                    details {
                        summary { "How matching reads these" }
                        table data-table="conditions" {
                            thead { tr { th { "The client's words" } th { "Read as" } } }
                            tbody { @for c in &conditions {
                                tr class=[(!c.read).then_some("unread")] { td { (c.text) } td { (c.reading) } }
                            } }
                        }
                    }
                }
            }
            section {
                h2 { "Who and what they are connected to" }
                @if graph.edges.is_empty() {
                    p { "No relationships, interests or past properties recorded yet: add them on " a href={ "/clients/" (id) "/edit" } { "the client's profile" } ", or learn them from a conversation below." }
                } @else {
                    (graph_drawing::neighbourhood(&graph, &format!("persona:{id}")))
                }
            }
            section {
                h2 { "Where their interests are heading" }
                (insights_section(&insights))
            }
            section {
                h2 { "Learn from a conversation" }
                form.stack method="post" action={ "/clients/" (id) "/enrich" } {
                    input type="hidden" name="csrf" value=(me.csrf_token);
                    label for="kind" { "What it is" }
                    select #kind name="kind" {
                        @for (kind, label) in super::enrichment::PASTED { option value=(kind.as_str()) { (label) } }
                    }
                    label for="content" { "Paste the text" }
                    textarea #content name="content" rows="6" required {}
                    label for="occurred_on" { "When it was said or written (optional; default today)" }
                    input #occurred_on type="date" name="occurred_on";
                    label for="author" { "Who wrote or recorded it (optional)" }
                    input #author type="text" name="author" maxlength="200";
                    button type="submit" { "Learn from it" }
                }
            }
            section {
                h2 { "How this profile evolved" }
                @if history.is_empty() { p { "No versions recorded." } }
                ol.timeline {
                    @for version in &history {
                        li id={ "version-" (version.version) } {
                            p { strong { "Version " (version.version) } " · " (version.change) " · " (version.created_at.format("%Y-%m-%d %H:%M UTC")) }
                            // A creation "changes" every field from nothing: the profile above shows it.
                            @if !version.changes.is_empty() && version.change != "created" {
                                ul {
                                    @for change in &version.changes {
                                        li { code { (change.field) } ": " (shown(change.from.as_ref())) " → " (shown(change.to.as_ref())) }
                                    }
                                }
                            }
                            @for fact in &version.evidence {
                                blockquote {
                                    p { "“" (fact.quote) "”" }
                                    footer { (fact.slot) " · " (fact.source.kind.as_str()) " of " (fact.source.occurred_on)
                                        @if let Some(author) = &fact.source.author { " by " (author) } }
                                }
                            }
                        }
                    }
                }
            }
            section {
                h2 { "Listings matched" }
                (matches)
            }
            section {
                h2 { "Simulations with this client" }
                @if simulations.is_empty() {
                    p { "None yet." }
                } @else {
                    ul { @for s in simulations.iter().take(20) {
                        li { a href={ "/simulations/" (s.id) } { (s.kind.as_str().replace('_', " ")) " of " (s.created_at.format("%Y-%m-%d")) } " · " (s.status.as_str()) }
                    } }
                }
            }
        };
        Ok(layout::page(&me, Section::Clients, &profile.name, body))
    })
    .await
}

fn insights_section(insights: &PersonaInsights) -> Markup {
    let item = |raw: &str| {
        raw.split_once(':').map_or(raw.to_owned(), |(slot, what)| {
            format!("{what} ({})", slot.replace('_', " "))
        })
    };
    html! {
        @if insights.facts_considered == 0 {
            p { "Nothing learned yet: insights come from what conversations, notes and emails teach about the client." }
        } @else {
            p.muted { "From " (insights.facts_considered) " facts learned, the recent ones weighing more." }
            table data-table="insights" {
                thead { tr { th { "Interest" } th { "Heading" } th { "Why" } } }
                tbody {
                    @for t in &insights.rising { tr { td { (item(&t.item)) } td { "rising" } td { (t.evidence.len()) " facts, last " (t.last_seen) } } }
                    @for t in &insights.fading { tr { td { (item(&t.item)) } td { "fading" } td { (t.evidence.len()) " facts, last " (t.last_seen) } } }
                    @for l in &insights.next_likely {
                        tr { td { (item(&l.item)) } td { "likely next (" (format!("{:.0}%", l.confidence * 100.0)) ")" } td { (l.clients_who_followed) " of " (l.clients_with_antecedent) " clients who held " (item(&l.because_of)) " took it up" } }
                    }
                }
            }
            @if insights.rising.is_empty() && insights.fading.is_empty() && insights.next_likely.is_empty() {
                p { "No interest is clearly rising or fading yet." }
            }
        }
    }
}

fn list_or_dash(items: &[String]) -> Markup {
    html! {
        @if items.is_empty() { "—" } @else { (items.join(", ")) }
    }
}

fn shown(value: Option<&Value>) -> String {
    match value {
        None => "(not set)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}
