//! The rest of the brokerage admin's pages: teams, API keys (a new key's token is shown once, on
//! the page, never in a URL) and webhooks with their delivery log. The same store calls and the
//! same rule as `/api/v1/teams`, `/users/{id}/keys`, `/keys/{id}` and `/webhooks`: brokerage
//! admins only, everything scoped to their brokerage.

use maud::{Markup, html};
use poem::{
    Request, Response, handler,
    web::{Data, Path, Query},
};
use serde::Deserialize;
use troupe_shared::{
    domain::{DeliveryStatus, EventType, User},
    store::WebhookPatch,
};
use uuid::Uuid;

use super::{
    error::{PageError, render},
    forms::{Posted, signed_post},
    layout::{self, Section},
    session::SignedIn,
};
use crate::{ApiState, webhooks::subscribe};

/// What only admins may do here, as a refusal says it.
const ADMINS_ONLY: &str = "manage the brokerage's teams, keys and webhooks";

/// Deliveries shown per page of a webhook's log.
const DELIVERIES: u32 = 50;

async fn admin(req: &Request) -> Result<SignedIn, PageError> {
    let me = SignedIn::from_request(req).await?;
    me.admin(ADMINS_ONLY)?;
    Ok(me)
}

/// An admin's form post: the signed-in admin and the fields, once the origin and token hold.
async fn admin_post(req: &Request, body: &str) -> Result<(SignedIn, Posted), PageError> {
    let (me, posted) = signed_post(req, body).await?;
    me.admin(ADMINS_ONLY)?;
    Ok((me, posted))
}

/// The admin pages' own navigation.
pub(super) fn admin_nav(current: &str) -> Markup {
    html! {
        nav.subnav aria-label="Admin" {
            @for (href, label) in [("/admin/users", "People"), ("/admin/teams", "Teams"), ("/admin/keys", "API keys"), ("/admin/webhooks", "Webhooks"), ("/admin/deleted-clients", "Deleted clients"), ("/admin/audit", "Audit log")] {
                a href=(href) aria-current=[(href == current).then_some("page")] { (label) } " "
            }
        }
    }
}

#[handler]
pub async fn teams(req: &Request, state: Data<&ApiState>) -> Response {
    render(async {
        let me = admin(req).await?;
        let brokerage = me.principal.brokerage_id;
        let teams = state.store.list_teams(brokerage).await?;
        let users = state.store.list_users(brokerage, None, 1000).await?;
        let body = html! {
            (admin_nav("/admin/teams"))
            h1 { "Teams" }
            p.muted { "A client shared with a team is seen by everyone on it; team leads change their team's clients." }
            @if teams.is_empty() {
                div.empty { p { "No teams yet. Add one below, then put people on it from " a href="/admin/users" { "People" } "." } }
            } @else {
                table data-table="teams" {
                    thead { tr { th { "Team" } th { "People" } th { "Since" } } }
                    tbody { @for team in &teams {
                        tr {
                            td { (team.name) }
                            td { (users.iter().filter(|u| u.team_id == Some(team.id)).map(|u| u.name.as_str()).collect::<Vec<_>>().join(", ")) }
                            td { (team.created_at.format("%Y-%m-%d")) }
                        }
                    } }
                }
            }
            h2 { "Add a team" }
            form.stack method="post" action="/admin/teams" {
                input type="hidden" name="csrf" value=(me.csrf_token);
                label for="team-name" { "Name" }
                input #team-name type="text" name="name" required maxlength="200";
                button type="submit" { "Add the team" }
            }
        };
        Ok(layout::page(&me, Section::Admin, "Teams", body))
    })
    .await
}

#[handler]
pub async fn add_team(req: &Request, state: Data<&ApiState>, body: String) -> Response {
    render(async {
        let (me, posted) = admin_post(req, &body).await?;
        let name = posted.text("name");
        if name.is_empty() || name.chars().count() > 200 {
            return Err(PageError::BadForm(
                "a team's name has 1 to 200 characters".into(),
            ));
        }
        state
            .store
            .create_team(me.admin(ADMINS_ONLY)?, name)
            .await?;
        Ok(layout::see_other("/admin/teams"))
    })
    .await
}

async fn keys_page(
    state: &ApiState,
    me: &SignedIn,
    issued: Option<(&User, String)>,
) -> Result<Response, PageError> {
    let brokerage = me.principal.brokerage_id;
    let users = state.store.list_users(brokerage, None, 1000).await?;
    let mut rows = Vec::new();
    for user in &users {
        for key in state.store.list_keys(brokerage, user.id).await? {
            rows.push((user, key));
        }
    }
    let body = html! {
        (admin_nav("/admin/keys"))
        h1 { "API keys" }
        p.muted { "Keys let programs (ActivePieces flows, scripts, the CRM's sync) act as a person, with that person's role and visibility. A key's token is shown once, when it is made." }
        @if let Some((user, token)) = &issued {
            div.invitation role="status" {
                p { "The new key for " strong { (user.name) } ". Copy it now: it is not shown again." }
                p { input.link-field type="text" readonly value=(token) aria-label="The new API key"; }
            }
        }
        @if rows.is_empty() { div.empty { p { "No keys yet. Make one for a person below." } } }
        @else {
            table data-table="keys" {
                thead { tr { th { "Key" } th { "Person" } th { "Made" } th { "Status" } th { "" } } }
                tbody { @for (user, key) in &rows {
                    tr {
                        td { code { (key.id.simple().to_string().get(..8).unwrap_or("")) } }
                        td { (user.name) }
                        td { (key.created_at.format("%Y-%m-%d %H:%M")) }
                        td { @if let Some(at) = key.revoked_at { "revoked " (at.format("%Y-%m-%d")) } @else { "active" } }
                        td { @if key.revoked_at.is_none() {
                            form.inline method="post" action={ "/admin/keys/" (key.id) "/revoke" } {
                                input type="hidden" name="csrf" value=(me.csrf_token);
                                button type="submit" { "Revoke " span.visually-hidden { (user.name) "'s key " (key.id) } }
                            }
                        } }
                    }
                } }
            }
        }
        h2 { "Make a key" }
        form.stack method="post" action="/admin/keys" {
            input type="hidden" name="csrf" value=(me.csrf_token);
            label for="key-user" { "For" }
            select #key-user name="user" required {
                @for user in users.iter().filter(|u| u.active) { option value=(user.id) { (user.name) " (" (user.role.as_str().replace('_', " ")) ")" } }
            }
            button type="submit" { "Make the key" }
        }
    };
    Ok(layout::page(me, Section::Admin, "API keys", body))
}

#[handler]
pub async fn keys(req: &Request, state: Data<&ApiState>) -> Response {
    render(async {
        let me = admin(req).await?;
        keys_page(&state, &me, None).await
    })
    .await
}

#[handler]
pub async fn mint_key(req: &Request, state: Data<&ApiState>, body: String) -> Response {
    render(async {
        let (me, posted) = admin_post(req, &body).await?;
        let user_id = Uuid::try_parse(posted.text("user"))
            .map_err(|_| PageError::BadForm("choose the person the key is for".into()))?;
        let user = state
            .store
            .get_user(me.principal.brokerage_id, user_id)
            .await?
            .ok_or_else(|| PageError::not_found(format!("user {user_id}")))?;
        let minted = state
            .store
            .mint_key(me.admin(ADMINS_ONLY)?, user_id)
            .await?
            .ok_or_else(|| PageError::not_found(format!("active user {user_id}")))?;
        keys_page(&state, &me, Some((&user, minted.token))).await
    })
    .await
}

#[handler]
pub async fn revoke_key(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    body: String,
) -> Response {
    render(async {
        let (me, _) = admin_post(req, &body).await?;
        state
            .store
            .revoke_key(me.admin(ADMINS_ONLY)?, id)
            .await?
            .ok_or_else(|| PageError::not_found(format!("active key {id}")))?;
        Ok(layout::see_other("/admin/keys"))
    })
    .await
}

async fn webhooks_page(
    state: &ApiState,
    me: &SignedIn,
    secret: Option<(String, String)>,
    problem: Option<String>,
) -> Result<Response, PageError> {
    let hooks = state
        .store
        .list_webhooks(me.principal.brokerage_id, None, 200)
        .await?;
    let body = html! {
        (admin_nav("/admin/webhooks"))
        h1 { "Webhooks" }
        p.muted { "Troupe posts each event to the endpoints subscribed to it, signed as Standard Webhooks (ActivePieces verifies them), and retries for a day." }
        @if let Some((url, secret)) = &secret {
            div.invitation role="status" {
                p { "Subscribed " code { (url) } ". Its signing secret, shown once:" }
                p { input.link-field type="text" readonly value=(secret) aria-label="The webhook's signing secret"; }
            }
        }
        @if let Some(problem) = &problem { div.alert role="alert" { p { "The webhook was not added: " (problem) } } }
        @if hooks.is_empty() { div.empty { p { "No webhooks yet. Subscribe an endpoint below, or let the ActivePieces piece subscribe its triggers." } } }
        @else {
            table data-table="webhooks" {
                thead { tr { th { "Endpoint" } th { "Events" } th { "Status" } th { "" } } }
                tbody { @for hook in &hooks {
                    tr {
                        td { a href={ "/admin/webhooks/" (hook.id) } { (hook.url) } @if !hook.description.is_empty() { br; span.muted { (hook.description) } } }
                        td { (hook.event_types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")) }
                        td {
                            @if !hook.enabled { "disabled" @if let Some(why) = &hook.disabled_reason { ": " (why) } }
                            @else if let Some(since) = hook.failing_since { "failing since " (since.format("%Y-%m-%d %H:%M")) }
                            @else { "delivering" }
                        }
                        td {
                            form.inline method="post" action={ "/admin/webhooks/" (hook.id) "/toggle" } {
                                input type="hidden" name="csrf" value=(me.csrf_token);
                                button type="submit" { @if hook.enabled { "Disable" } @else { "Enable" } span.visually-hidden { " " (hook.url) } }
                            }
                            form.inline method="post" action={ "/admin/webhooks/" (hook.id) "/delete" } {
                                input type="hidden" name="csrf" value=(me.csrf_token);
                                button type="submit" { "Delete" span.visually-hidden { " " (hook.url) } }
                            }
                        }
                    }
                } }
            }
        }
        h2 { "Subscribe an endpoint" }
        form.stack method="post" action="/admin/webhooks" {
            input type="hidden" name="csrf" value=(me.csrf_token);
            label for="hook-url" { "Endpoint (https://…)" }
            input #hook-url type="url" name="url" required maxlength="2048";
            label for="hook-description" { "What it is for (optional)" }
            input #hook-description type="text" name="description" maxlength="500";
            fieldset {
                legend { "Events (none ticked: every outcome — completed, failed and cancelled simulations, enrichments, matching)" }
                @for event in EventType::ALL {
                    label.check { input type="checkbox" name="event" value=(event.as_str()); " " code { (event.as_str()) } }
                }
            }
            button type="submit" { "Subscribe" }
        }
    };
    Ok(layout::page(me, Section::Admin, "Webhooks", body))
}

#[handler]
pub async fn webhooks(req: &Request, state: Data<&ApiState>) -> Response {
    render(async {
        let me = admin(req).await?;
        webhooks_page(&state, &me, None, None).await
    })
    .await
}

#[handler]
pub async fn add_webhook(req: &Request, state: Data<&ApiState>, body: String) -> Response {
    render(async {
        let (me, posted) = admin_post(req, &body).await?;
        let mut types = Vec::new();
        for raw in posted.all("event") {
            types.push(
                EventType::parse(raw)
                    .ok_or_else(|| PageError::BadForm(format!("{raw:?} is not an event")))?,
            );
        }
        let url = posted.text("url").to_owned();
        let description = posted.text("description").chars().take(500).collect();
        let types = (!types.is_empty()).then_some(types);
        match subscribe(&state, me.admin(ADMINS_ONLY)?, &url, types, description).await {
            Ok((_, secret)) => webhooks_page(&state, &me, Some((url, secret)), None).await,
            Err(err) if poem::error::ResponseError::status(&err).is_client_error() => {
                webhooks_page(&state, &me, None, Some(err.to_string())).await
            }
            Err(err) => Err(err.into()),
        }
    })
    .await
}

#[handler]
pub async fn toggle_webhook(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    body: String,
) -> Response {
    render(async {
        let (me, _) = admin_post(req, &body).await?;
        let hook = state
            .store
            .get_webhook(me.principal.brokerage_id, id)
            .await?
            .ok_or_else(|| PageError::not_found(format!("webhook {id}")))?;
        let patch = WebhookPatch {
            url: None,
            description: None,
            event_types: None,
            enabled: Some(!hook.enabled),
        };
        state
            .store
            .update_webhook(me.admin(ADMINS_ONLY)?, id, &patch)
            .await?
            .ok_or_else(|| PageError::not_found(format!("webhook {id}")))?;
        Ok(layout::see_other("/admin/webhooks"))
    })
    .await
}

#[handler]
pub async fn delete_webhook(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    body: String,
) -> Response {
    render(async {
        let (me, _) = admin_post(req, &body).await?;
        if !state
            .store
            .delete_webhook(me.admin(ADMINS_ONLY)?, id)
            .await?
        {
            return Err(PageError::not_found(format!("webhook {id}")));
        }
        Ok(layout::see_other("/admin/webhooks"))
    })
    .await
}

#[derive(Deserialize)]
pub struct DeliveryQuery {
    status: Option<String>,
    before: Option<String>,
}

/// A webhook's delivery log, newest first: each delivery's event, status, attempts and last
/// error, with a button to send a failed one again.
#[handler]
pub async fn deliveries(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    Query(query): Query<DeliveryQuery>,
) -> Response {
    render(async {
        let me = admin(req).await?;
        let brokerage = me.principal.brokerage_id;
        let hook = state
            .store
            .get_webhook(brokerage, id)
            .await?
            .ok_or_else(|| PageError::not_found(format!("webhook {id}")))?;
        let status = match query.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(DeliveryStatus::parse(raw).ok_or_else(|| PageError::BadForm(format!("{raw:?} is not a delivery status")))?),
        };
        let before = super::error::id_param(query.before.as_deref(), "delivery")?;
        let mut log = state.store.list_deliveries(brokerage, id, before, status, DELIVERIES).await?;
        let more = log.len() > DELIVERIES as usize;
        log.truncate(DELIVERIES as usize);
        let body = html! {
            (admin_nav("/admin/webhooks"))
            p.crumbs { a href="/admin/webhooks" { "Webhooks" } " / " (hook.url) }
            h1 { "Deliveries to " (hook.url) }
            form.filters method="get" action={ "/admin/webhooks/" (id) } {
                label { "Status "
                    select name="status" {
                        option value="" { "any" }
                        @for s in DeliveryStatus::ALL { option value=(s.as_str()) selected[status == Some(*s)] { (s.as_str()) } }
                    }
                }
                button type="submit" { "Filter" }
            }
            @if log.is_empty() { div.empty { p { "Nothing delivered yet: events the endpoint subscribes to will show here as they are sent." } } }
            @else {
                table data-table="deliveries" {
                    thead { tr { th { "When" } th { "Event" } th { "Status" } th { "Attempts" } th { "Last error" } th { "" } } }
                    tbody { @for d in &log {
                        tr {
                            td { (d.created_at.format("%Y-%m-%d %H:%M:%S")) }
                            td { code { (d.event_type) } }
                            td { (d.status.as_str()) @if let Some(next) = d.next_attempt_at { @if d.status == DeliveryStatus::Pending { " (next " (next.format("%H:%M:%S")) ")" } } }
                            td.number { (d.attempts) }
                            td { (d.last_error.as_deref().unwrap_or("—")) }
                            td { @if d.status == DeliveryStatus::Failed || d.status == DeliveryStatus::Succeeded {
                                form.inline method="post" action={ "/admin/webhooks/" (id) "/deliveries/" (d.id) "/redeliver" } {
                                    input type="hidden" name="csrf" value=(me.csrf_token);
                                    button type="submit" { "Send again" }
                                }
                            } }
                        }
                    } }
                }
                @if more { p { a href={ "/admin/webhooks/" (id) "?before=" (log.last().map(|d| d.id).unwrap_or_default()) "&status=" (status.map_or("", |s| s.as_str())) } { "Older deliveries" } } }
            }
        };
        Ok(layout::page(&me, Section::Admin, "Webhook deliveries", body))
    })
    .await
}

#[handler]
pub async fn redeliver(
    req: &Request,
    state: Data<&ApiState>,
    Path((id, delivery)): Path<(Uuid, Uuid)>,
    body: String,
) -> Response {
    render(async {
        let (me, _) = admin_post(req, &body).await?;
        let brokerage = me.principal.brokerage_id;
        state
            .store
            .get_delivery(brokerage, id, delivery)
            .await?
            .ok_or_else(|| PageError::not_found(format!("delivery {delivery}")))?;
        if !state
            .store
            .redeliver(me.admin(ADMINS_ONLY)?, id, delivery)
            .await?
        {
            return Err(PageError::Api(crate::problem::ApiError::Conflict(format!(
                "delivery {delivery} is being sent now"
            ))));
        }
        Ok(layout::see_other(&format!("/admin/webhooks/{id}")))
    })
    .await
}
