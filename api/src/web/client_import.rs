//! Bringing a client book in from a CRM (a HubSpot or Salesforce export, uploaded or pasted) and
//! reviewing likely duplicates — the same import and the same comparison as
//! `POST /api/v1/personas/import` and `GET /api/v1/personas/duplicates`, with the same rules.

use std::sync::Arc;

use maud::{Markup, html};
use poem::{
    Request, Response, handler,
    web::{Data, Form, Multipart},
};
use serde::Deserialize;
use troupe_shared::duplicates::Likeness;
use uuid::Uuid;

use super::{
    error::{PageError, id_param, render},
    forms::uploaded_csv,
    layout::{self, Section},
    session::{SignedIn, same_origin},
};
use crate::{
    ApiState,
    audit::ReadVia,
    contract::Contract,
    duplicates::{likely_pairs, merge as merge_clients},
    persona_import::{self, Input, PersonaImportReport},
};

const MAPPINGS: [(&str, &str); 4] = [
    ("", "Read it from the header"),
    ("hubspot", "HubSpot contacts export"),
    ("salesforce", "Salesforce Contact export"),
    ("troupe", "Troupe's field names"),
];

fn form(me: &SignedIn) -> Markup {
    html! {
        form.stack method="post" action="/clients/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(me.csrf_token);
            label { "CSV export " input type="file" name="file" accept=".csv,text/csv"; }
            label { "…or paste it here " textarea name="csv" rows="8" cols="80" {} }
            label { "Columns "
                select name="mapping" {
                    @for (value, label) in MAPPINGS { option value=(value) { (label) } }
                }
            }
            button type="submit" { "Import clients" }
        }
    }
}

#[handler]
pub async fn form_page(req: &Request) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let body = html! {
            p.crumbs { a href="/clients" { "Clients" } " / import" }
            h1 { "Import clients from a CRM" }
            p { "Upload a HubSpot contacts export or a Salesforce Contact export as it comes. Clients already here are matched by their CRM id, then their email address, and only the fields in the file change; importing the same file again changes nothing. Columns Troupe has no field for (the owner, the lifecycle stage…) and the notes are kept as sources it learns from." }
            (form(&me))
        };
        Ok(layout::page(&me, Section::Clients, "Import clients", body))
    })
    .await
}

#[handler]
pub async fn submit(
    req: &Request,
    state: Data<&ApiState>,
    contract: Data<&Arc<Contract>>,
    multipart: Multipart,
) -> Response {
    render(async {
        let (me, text, fields) = uploaded_csv(req, multipart).await?;
        let mapping = fields.text("mapping").to_owned();
        let input = Input::Csv {
            text,
            mapping: (!mapping.is_empty()).then_some(mapping),
            columns: None,
        };
        // Boxed: an import's future (a row's upsert and learning within) is large.
        let report =
            Box::pin(persona_import::run(&state, &me.principal, &contract, input, None)).await?;
        let body = html! {
            p.crumbs { a href="/clients" { "Clients" } " / import" }
            h1 { "Import: " (report.created) " new, " (report.updated) " updated, " (report.unchanged) " unchanged, " (report.failed) " not imported" }
            (report_tables(&report))
            h2 { "Import another file" }
            (form(&me))
        };
        Ok(layout::page(&me, Section::Clients, "Import clients", body))
    })
    .await
}

fn report_tables(report: &PersonaImportReport) -> Markup {
    html! {
        p { "Read as a " strong { (report.mapping) } " export"
            @if let Some(source) = &report.source { "; ids kept as " code { (source) } " ids" } "." }
        @if !report.kept_as_public_info.is_empty() {
            p { "Kept as information to learn from: " (report.kept_as_public_info.join(", ")) "." }
        }
        @if !report.errors.is_empty() {
            h2 { "Rows not imported" }
            table data-table="import-errors" {
                thead { tr { th { "Line" } th { "Why" } } }
                tbody { @for e in &report.errors { tr { td { (e.line) } td { (e.reason) } } } }
            }
        }
        @if !report.imported.is_empty() {
            h2 { "Clients" }
            table data-table="imported" {
                thead { tr { th { "Line" } th { "Client" } th { "CRM id" } th { "Outcome" } th { "Likely duplicate of" } } }
                tbody {
                    @for row in &report.imported {
                        tr {
                            td { (row.line) }
                            td { a href={ "/clients/" (row.persona_id) } { (row.name) } }
                            td { (row.external_id.as_deref().unwrap_or("—")) }
                            td data-outcome=(row.outcome) { (row.outcome) }
                            td {
                                @for w in &row.warnings {
                                    a href={ "/clients/" (w.persona_id) } { (w.name) } " (" (w.reasons.join(", ")) ") "
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[handler]
pub async fn duplicates(req: &Request, state: Data<&ApiState>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let (pairs, _) = likely_pairs(&state, &me.principal, usize::MAX, ReadVia::Web).await?;
        let link = |id: Option<Uuid>, name: &str| html! {
            @if let Some(id) = id { a href={ "/clients/" (id) } { (name) } } @else { (name) }
        };
        let body = html! {
            p.crumbs { a href="/clients" { "Clients" } " / likely duplicates" }
            h1 { "Likely duplicates" }
            @if pairs.is_empty() {
                div.empty { p { "No two clients you can see look like the same person." } }
            } @else {
                p { "Each pair shares an email address or a phone number, or has close names in the same city. Nothing has been merged: choose the record to keep, and the other is folded into it — its history, sources, outcomes and simulations move with it." }
                table data-table="duplicates" {
                    thead { tr { th { "Client" } th { "Probably the same as" } th { "Why" } th { "Merge" } } }
                    tbody {
                        @for pair in &pairs {
                            tr {
                                td { (link(pair.first.id, &pair.first.name)) }
                                td { (link(pair.second.id, &pair.second.name)) }
                                td { (pair.likeness.iter().map(Likeness::words).collect::<Vec<_>>().join(", ")) }
                                td {
                                    @if let (Some(first), Some(second)) = (pair.first.id, pair.second.id) {
                                        (merge_form(&me, second, first, &pair.first.name))
                                        (merge_form(&me, first, second, &pair.second.name))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        };
        Ok(layout::page(&me, Section::Clients, "Likely duplicates", body))
    })
    .await
}

/// A button that folds `absorbed` into `kept` (named `name`).
fn merge_form(me: &SignedIn, absorbed: Uuid, kept: Uuid, name: &str) -> Markup {
    html! {
        form.inline method="post" action="/clients/merge" {
            input type="hidden" name="csrf" value=(me.csrf_token);
            input type="hidden" name="absorbed" value=(absorbed);
            input type="hidden" name="into" value=(kept);
            button type="submit" { "Keep " (name) }
        }
    }
}

#[derive(Deserialize)]
pub struct MergeForm {
    csrf: String,
    absorbed: String,
    into: String,
}

#[handler]
pub async fn merge(req: &Request, state: Data<&ApiState>, Form(form): Form<MergeForm>) -> Response {
    render(async {
        same_origin(req)?;
        let me = SignedIn::from_request(req).await?;
        me.check_csrf(&form.csrf)?;
        let absorbed = id_param(Some(&form.absorbed), "absorbed")?
            .ok_or_else(|| PageError::BadForm("choose the record to merge".into()))?;
        let kept = id_param(Some(&form.into), "into")?
            .ok_or_else(|| PageError::BadForm("choose the record to keep".into()))?;
        merge_clients(&state, &me.principal, absorbed, kept).await?;
        Ok(layout::see_other(&format!("/clients/{kept}")))
    })
    .await
}
