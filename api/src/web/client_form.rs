//! Adding a client, changing one, exporting everything held about them and deleting them: the
//! same calls as `POST /api/v1/personas`, `PATCH …/{id}`, `GET …/{id}/export` and `DELETE
//! …/{id}`, so a form is held to the same schema, rules, permissions and audit as the API.

use std::sync::Arc;

use maud::{Markup, html};
use poem::{
    IntoResponse, Request, Response,
    error::ResponseError,
    handler,
    web::{Data, Path},
};
use poem_openapi::types::{ParseFromJSON, ToJSON};
use serde_json::{Value, json};
use troupe_shared::domain::{Persona, PersonaProfile, RESTORE_WINDOW, Visibility};
use uuid::Uuid;

use super::{
    error::{PageError, render},
    forms::{Document, FormPage, Posted, number_text, refusals, signed_post},
    layout::{self, Section},
    session::SignedIn,
};
use crate::{
    ApiState,
    contract::Contract,
    deletion::{delete_client, erase_client_now, refusal},
    personas::{create_client, export_client, patch_client, visible, writable},
    problem::ApiError,
};

/// How a field is typed.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Line,
    Paragraph,
    /// A textarea of one item per line, stored as a list.
    List,
}

/// The form's fields: (name, label, where in the profile, how it is typed).
const FIELDS: [(&str, &str, &[&str], Kind); 15] = [
    ("name", "Name", &["name"], Kind::Line),
    (
        "segment",
        "Segment (e.g. tech_executive)",
        &["segment"],
        Kind::Line,
    ),
    ("biography", "Biography", &["biography"], Kind::Paragraph),
    (
        "occupation",
        "Occupation",
        &["demographics", "occupation"],
        Kind::Line,
    ),
    (
        "age_range",
        "Age range",
        &["demographics", "age_range"],
        Kind::Line,
    ),
    (
        "net_worth",
        "Net worth range (e.g. $100M-$250M)",
        &["demographics", "net_worth_range"],
        Kind::Line,
    ),
    ("email", "Email", &["contact", "email"], Kind::Line),
    ("phone", "Phone", &["contact", "phone"], Kind::Line),
    (
        "locations",
        "Places they want, one per line",
        &["preferences", "locations"],
        Kind::List,
    ),
    (
        "property_types",
        "Property types, one per line",
        &["preferences", "property_types"],
        Kind::List,
    ),
    (
        "features",
        "What they want, one per line",
        &["preferences", "features"],
        Kind::List,
    ),
    (
        "deal_breakers",
        "Deal-breakers, one per line (\"no garage\", \"busy road\")",
        &["preferences", "deal_breakers"],
        Kind::List,
    ),
    (
        "interests",
        "Interests, one per line",
        &["knowledge_graph", "interests"],
        Kind::List,
    ),
    (
        "decision_style",
        "How they decide",
        &["personality_traits", "decision_style"],
        Kind::Line,
    ),
    (
        "communication",
        "How they like to be contacted",
        &["personality_traits", "communication_preference"],
        Kind::Line,
    ),
];

/// How the API's pointers read on this form.
const LABELS: [(&str, &str); 12] = [
    ("/name", "Name"),
    ("/segment", "Segment"),
    ("/biography", "Biography"),
    ("/demographics", "Demographics"),
    ("/contact/email", "Email"),
    ("/contact/phone", "Phone"),
    ("/preferences/budget", "Budget"),
    ("/preferences/locations", "Places"),
    ("/preferences/features", "Wants"),
    ("/preferences/deal_breakers", "Deal-breakers"),
    ("/preferences/property_types", "Property types"),
    ("/knowledge_graph/interests", "Interests"),
];

/// The profile's fields from the form, over `doc`'s base.
fn fill(doc: &mut Document<'_>, posted: &Posted) {
    for (name, _, path, kind) in FIELDS {
        match kind {
            Kind::List => doc.lines(name, path),
            Kind::Line | Kind::Paragraph => doc.text(name, path),
        }
    }
    if posted.text("name").is_empty() {
        doc.problems.push("Name: a client needs a name.".into());
    }
    doc.number(
        "budget_min",
        "Budget from",
        &["preferences", "budget", "min"],
    );
    doc.number(
        "budget_max",
        "Budget up to",
        &["preferences", "budget", "max"],
    );
}

/// What a stored client shows in the form.
fn shown(profile: &Value, path: &[&str]) -> String {
    let value = path.iter().fold(profile, |at, key| &at[*key]);
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Number(n) => number_text(n),
        _ => String::new(),
    }
}

fn form(
    me: &SignedIn,
    action: &str,
    profile: &Value,
    visibility: Visibility,
    version: Option<i64>,
    button: &str,
) -> Markup {
    html! {
        form.stack method="post" action=(action) {
            input type="hidden" name="csrf" value=(me.csrf_token);
            @if let Some(version) = version { input type="hidden" name="version" value=(version); }
            @for (name, label, path, kind) in FIELDS {
                label for=(name) { (label) }
                @if kind == Kind::Line {
                    input id=(name) type=(if name == "email" { "email" } else { "text" }) name=(name) value=(shown(profile, path)) required[name == "name"];
                } @else {
                    textarea id=(name) name=(name) rows="3" { (shown(profile, path)) }
                }
            }
            fieldset {
                legend { "Budget (USD)" }
                label for="budget_min" { "From" }
                input #budget_min type="text" inputmode="numeric" name="budget_min" value=(shown(profile, &["preferences", "budget", "min"]));
                label for="budget_max" { "Up to" }
                input #budget_max type="text" inputmode="numeric" name="budget_max" value=(shown(profile, &["preferences", "budget", "max"]));
            }
            label for="visibility" { "Who may see this client" }
            select #visibility name="visibility" {
                @for v in Visibility::ALL {
                    option value=(v.as_str()) selected[*v == visibility] { (match v { Visibility::Private => "Only me", Visibility::Team => "My team", Visibility::Brokerage => "The whole brokerage" }) }
                }
            }
            button.primary type="submit" { (button) }
        }
    }
}

fn visibility_of(posted: &Posted) -> Result<Visibility, String> {
    Visibility::parse(posted.text("visibility"))
        .ok_or_else(|| "Who may see this client: choose one of the options.".to_owned())
}

fn form_page(
    me: &SignedIn,
    title: &str,
    crumbs: Markup,
    body: Markup,
    problems: &[String],
) -> Response {
    let page = FormPage {
        section: Section::Clients,
        what: "The client",
        title,
        crumbs,
    };
    page.render(me, body, problems)
}

fn new_page(
    me: &SignedIn,
    profile: &Value,
    visibility: Visibility,
    problems: &[String],
) -> Response {
    form_page(
        me,
        "New client",
        html! { a href="/clients" { "Clients" } " / new" },
        form(
            me,
            "/clients/new",
            profile,
            visibility,
            None,
            "Add the client",
        ),
        problems,
    )
}

#[handler]
pub async fn new_form(req: &Request) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        Ok(new_page(&me, &json!({}), Visibility::Private, &[]))
    })
    .await
}

#[handler]
pub async fn create(
    req: &Request,
    state: Data<&ApiState>,
    contract: Data<&Arc<Contract>>,
    body: String,
) -> Response {
    render(async {
        let (me, posted) = signed_post(req, &body).await?;
        let mut doc = Document::over(&posted, json!({}));
        fill(&mut doc, &posted);
        let visibility = visibility_of(&posted).unwrap_or_else(|p| {
            doc.problems.push(p);
            Visibility::Private
        });
        let refused = |problems: Vec<String>, value: &Value| Ok(new_page(&me, value, visibility, &problems));
        if !doc.problems.is_empty() {
            return refused(doc.problems, &doc.value);
        }
        let mut checked = doc.value.clone();
        checked["visibility"] = json!(visibility);
        if let Err(err) = contract.check_against("PersonaIn", &checked) {
            return refused(refusals(&err, &LABELS), &doc.value);
        }
        let profile = match PersonaProfile::parse_from_json(Some(doc.value.clone())) {
            Ok(profile) => profile,
            Err(err) => return refused(vec![err.into_message()], &doc.value),
        };
        match Box::pin(create_client(&state, &me.principal, profile, visibility)).await {
            Ok(created) if created.warnings.is_empty() => Ok(layout::see_other(&format!("/clients/{}", created.persona.id))),
            Ok(created) => {
                let id = created.persona.id;
                let body = html! {
                    p.crumbs { a href="/clients" { "Clients" } " / " (created.persona.profile.name) }
                    h1 { "Added " (created.persona.profile.name) }
                    div.alert role="status" {
                        p { "This may be a client you already have:" }
                        ul { @for w in &created.warnings {
                            li { a href={ "/clients/" (w.persona_id) } { (w.name) } ": " (w.reasons.join("; ")) }
                        } }
                        p { "Nothing was merged. " a href="/clients/duplicates" { "Review likely duplicates" } " to keep one record." }
                    }
                    p { a href={ "/clients/" (id) } { "Open " (created.persona.profile.name) "'s page" } }
                };
                Ok(layout::page(&me, Section::Clients, "Client added", body))
            }
            Err(err) if err.status().is_client_error() => refused(refusals(&err, &LABELS), &doc.value),
            Err(err) => Err(err.into()),
        }
    })
    .await
}

async fn changeable(state: &ApiState, me: &SignedIn, id: Uuid) -> Result<Persona, PageError> {
    let persona = writable(state, &me.principal, id).await?;
    if persona.synthetic {
        return Err(PageError::not_found(format!("client {id}")));
    }
    Ok(persona)
}

fn edit_page(
    me: &SignedIn,
    persona: &Persona,
    profile: &Value,
    visibility: Visibility,
    version: i64,
    problems: &[String],
) -> Response {
    let id = persona.id;
    let name = &persona.profile.name;
    form_page(
        me,
        &format!("Edit {name}"),
        html! { a href="/clients" { "Clients" } " / " a href={ "/clients/" (id) } { (name) } " / edit" },
        html! {
            p.muted { "Fields left empty are removed. What enrichment learned and the client's relationships are kept; their history records this change as version " (version + 1) "." }
            (form(me, &format!("/clients/{id}/edit"), profile, visibility, Some(version), "Save changes"))
        },
        problems,
    )
}

fn profile_value(persona: &Persona) -> Result<Value, PageError> {
    serde_json::to_value(&persona.profile)
        .map_err(|e| PageError::Api(ApiError::Internal(Box::new(e))))
}

#[handler]
pub async fn edit_form(req: &Request, state: Data<&ApiState>, Path(id): Path<Uuid>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let persona = changeable(&state, &me, id).await?;
        let profile = profile_value(&persona)?;
        Ok(edit_page(
            &me,
            &persona,
            &profile,
            persona.visibility,
            persona.version,
            &[],
        ))
    })
    .await
}

#[handler]
pub async fn update(
    req: &Request,
    state: Data<&ApiState>,
    contract: Data<&Arc<Contract>>,
    Path(id): Path<Uuid>,
    body: String,
) -> Response {
    render(async {
        let (me, posted) = signed_post(req, &body).await?;
        let persona = changeable(&state, &me, id).await?;
        let version = posted
            .text("version")
            .parse::<i64>()
            .unwrap_or(persona.version);
        let mut patch = Document::patch(&posted);
        fill(&mut patch, &posted);
        let visibility = visibility_of(&posted).unwrap_or_else(|p| {
            patch.problems.push(p);
            persona.visibility
        });
        // Shown again as typed, over the stored profile.
        let mut typed = profile_value(&persona)?;
        json_patch::merge(&mut typed, &patch.value);
        if !patch.problems.is_empty() {
            return Ok(edit_page(
                &me,
                &persona,
                &typed,
                visibility,
                version,
                &patch.problems,
            ));
        }
        patch.value["visibility"] = json!(visibility);
        // Boxed: a write's future (the merge and its checks within) is large.
        let patched = patch_client(
            &state,
            &me.principal,
            &contract,
            id,
            Some(version),
            patch.value,
        );
        match Box::pin(patched).await {
            Ok(_) => Ok(layout::see_other(&format!("/clients/{id}"))),
            Err(err) if err.status().is_client_error() => Ok(edit_page(
                &me,
                &persona,
                &typed,
                visibility,
                version,
                &refusals(&err, &LABELS),
            )),
            Err(err) => Err(err.into()),
        }
    })
    .await
}

/// Everything held about the client, downloaded as the API's export (audited as one).
#[handler]
pub async fn export(req: &Request, state: Data<&ApiState>, Path(id): Path<Uuid>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let export = export_client(&state, &me.principal, id).await?;
        let body = serde_json::to_string_pretty(&export.to_json()).unwrap_or_default();
        Ok(body
            .with_content_type("application/json")
            .with_header(
                "content-disposition",
                format!("attachment; filename=\"client-{id}.json\""),
            )
            .into_response())
    })
    .await
}

/// The confirmation before a deletion: the client leaves the book now and is erased after the
/// restore window; an admin may instead erase them at once (an erasure request).
#[handler]
pub async fn delete_form(req: &Request, state: Data<&ApiState>, Path(id): Path<Uuid>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let persona = deletable(&state, &me, id).await?;
        let name = &persona.profile.name;
        let days = RESTORE_WINDOW.num_days();
        let body = html! {
            p.crumbs { a href="/clients" { "Clients" } " / " a href={ "/clients/" (id) } { (name) } " / delete" }
            h1 { "Delete " (name) "?" }
            p { (name) " leaves the client book at once, for everyone: searches, simulations, matches and the graph stop showing them. A brokerage admin can restore them within " (days) " days; after that they are erased for good — their profile and every version of it, what was learned about them, their answers in past simulations (the totals stay), their matches and feedback, and their name wherever another client's record mentions them. The audit log keeps only that a record with this id was erased." }
            p { a href={ "/clients/" (id) "/export" } { "Download everything held about " (name) } " first if the client asked for a copy." }
            form method="post" action={ "/clients/" (id) "/delete" } {
                input type="hidden" name="csrf" value=(me.csrf_token);
                label.check { input type="checkbox" name="confirm" value=(name) required; " I want to delete " (name) }
                @if me.principal.as_admin().is_some() {
                    label.check { input type="checkbox" name="erase" value="now"; " Erase them now instead, without the " (days) "-day restore window (the client asked to be forgotten). This cannot be undone." }
                }
                div.actions {
                    button.danger type="submit" { "Delete " (name) }
                    a href={ "/clients/" (id) } { "Keep the client" }
                }
            }
        };
        Ok(layout::page(&me, Section::Clients, &format!("Delete {name}"), body))
    })
    .await
}

#[handler]
pub async fn delete(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    body: String,
) -> Response {
    render(async {
        let (me, posted) = signed_post(req, &body).await?;
        let persona = deletable(&state, &me, id).await?;
        let name = persona.profile.name.trim();
        if posted.text("confirm") != name {
            return Err(PageError::BadForm(format!(
                "tick \"I want to delete {name}\" to confirm; nothing was deleted"
            )));
        }
        let body = if posted.text("erase") == "now" {
            let admin = me.admin("erase a client at once")?;
            Box::pin(erase_client_now(&state, admin, id)).await?;
            html! {
                h1 { (name) " was erased" }
                p { a href="/clients" { "Back to the client book" } }
            }
        } else {
            let erase_after = delete_client(&state, &me.principal, id).await?;
            html! {
                h1 { (name) " was deleted" }
                p { "A brokerage admin can restore them until " (erase_after.format("%Y-%m-%d %H:%M UTC")) "; then they are erased for good." }
                p { a href="/clients" { "Back to the client book" } }
            }
        };
        Ok(layout::page(&me, Section::Clients, "Client deleted", body))
    })
    .await
}

/// A real client the signed-in user may delete under the brokerage's setting; anyone else is
/// told who may.
async fn deletable(state: &ApiState, me: &SignedIn, id: Uuid) -> Result<Persona, PageError> {
    let persona = visible(state, &me.principal, id).await?;
    if persona.synthetic {
        return Err(PageError::not_found(format!("client {id}")));
    }
    let policy = state
        .store
        .deletion_policy(me.principal.brokerage_id)
        .await?;
    if !me.principal.may_delete_client(&persona, policy) {
        return Err(ApiError::Forbidden(refusal(&persona.visibility, policy)).into());
    }
    Ok(persona)
}
