//! The brokerage admin's pages: people (add a user, invite them to the workspace — the one-time
//! link is shown on the page, never put in a URL — and deactivate them) and the audit log with
//! filters. The same store calls and the same rule as the API: brokerage admins only.

use maud::html;
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path, Query},
};
use serde::Deserialize;
use troupe_shared::{domain::Role, store::AuditFilter};
use uuid::Uuid;

use super::{
    WebSettings,
    admin_access::admin_nav,
    error::{PageError, id_param, render},
    layout::{self, Section},
    session::SignedIn,
};
use crate::ApiState;

const AUDIT_PAGE: u32 = 100;

/// What only admins may do here, as a refusal says it.
const ADMINS_ONLY: &str = "manage the brokerage's people and read its audit log";

/// The signed-in admin; anyone else is told that only admins manage the brokerage.
async fn admin(req: &Request) -> Result<SignedIn, PageError> {
    let me = SignedIn::from_request(req).await?;
    me.admin(ADMINS_ONLY)?;
    Ok(me)
}

#[handler]
pub async fn people(req: &Request, state: Data<&ApiState>) -> Response {
    render(async {
        let me = admin(req).await?;
        users_page(&state, &me, None).await
    })
    .await
}

/// The people page; `invited` shows a fresh invitation's link once.
async fn users_page(
    state: &ApiState,
    me: &SignedIn,
    invited: Option<(String, String)>,
) -> Result<Response, PageError> {
    let brokerage = me.principal.brokerage_id;
    let users = state.store.list_users(brokerage, None, 1000).await?;
    let teams = state.store.list_teams(brokerage).await?;
    let team_name = |id: Option<Uuid>| {
        id.and_then(|id| teams.iter().find(|t| t.id == id))
            .map_or("—", |t| t.name.as_str())
    };
    let body = html! {
        (admin_nav("/admin/users"))
        h1 { "People" }
        @if let Some((name, url)) = &invited {
            div.invitation role="status" {
                p { "Give " strong { (name) } " this link: it lets them set a password once, within seven days, and is not shown again." }
                p { input.link-field type="text" readonly value=(url) aria-label="Invitation link"; }
            }
        }
        table data-table="users" {
            thead { tr { th { "Name" } th { "Role" } th { "Team" } th { "Signs in as" } th { "Status" } th { "Invite to the workspace" } th { "" } } }
            tbody {
                @for user in &users {
                    tr {
                        td { (user.name) }
                        td { (user.role.as_str().replace('_', " ")) }
                        td { (team_name(user.team_id)) }
                        td { (user.email.as_deref().unwrap_or("—")) @if user.email.is_some() && !user.can_sign_in { " (invited)" } }
                        td { @if user.active { "active" } @else { "deactivated" } }
                        td {
                            @if user.active {
                                form.inline method="post" action={ "/admin/users/" (user.id) "/invite" } {
                                    input type="hidden" name="csrf" value=(me.csrf_token);
                                    label.visually-hidden for={ "email-" (user.id) } { "Email for " (user.name) }
                                    input id={ "email-" (user.id) } type="email" name="email" required value=(user.email.as_deref().unwrap_or(""));
                                    button type="submit" { "Invite" }
                                }
                            }
                        }
                        td {
                            @if user.active && user.id != me.principal.user_id {
                                form.inline method="post" action={ "/admin/users/" (user.id) "/deactivate" } {
                                    input type="hidden" name="csrf" value=(me.csrf_token);
                                    button type="submit" { "Deactivate " span.visually-hidden { (user.name) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add a person" }
        form.stack method="post" action="/admin/users" {
            input type="hidden" name="csrf" value=(me.csrf_token);
            label for="new-name" { "Name" }
            input #new-name type="text" name="name" required maxlength="200";
            label for="new-role" { "Role" }
            select #new-role name="role" {
                @for role in Role::ALL { option value=(role.as_str()) { (role.as_str().replace('_', " ")) } }
            }
            label for="new-team" { "Team" }
            select #new-team name="team" {
                option value="" { "no team" }
                @for team in &teams { option value=(team.id) { (team.name) } }
            }
            button type="submit" { "Add" }
        }
    };
    Ok(layout::page(me, Section::Admin, "People", body))
}

#[derive(Deserialize)]
pub struct NewUserForm {
    csrf: String,
    name: String,
    role: String,
    team: Option<String>,
}

#[handler]
pub async fn add_user(
    req: &Request,
    state: Data<&ApiState>,
    Form(form): Form<NewUserForm>,
) -> Response {
    render(async {
        let me = admin(req).await?;
        me.check_csrf(&form.csrf)?;
        let name = form.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(PageError::BadForm("a name has 1 to 200 characters".into()));
        }
        let role = Role::parse(&form.role)
            .ok_or_else(|| PageError::BadForm(format!("{:?} is not a role", form.role)))?;
        let team = match form
            .team
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            None => None,
            Some(raw) => Some(
                raw.parse::<Uuid>()
                    .map_err(|_| PageError::BadForm(format!("{raw:?} is not a team")))?,
            ),
        };
        state
            .store
            .create_user(me.admin(ADMINS_ONLY)?, name, role, team)
            .await?
            .ok_or_else(|| PageError::not_found("team"))?;
        Ok(layout::see_other("/admin/users"))
    })
    .await
}

#[derive(Deserialize)]
pub struct InviteForm {
    csrf: String,
    email: String,
}

#[handler]
pub async fn send_invitation(
    req: &Request,
    state: Data<&ApiState>,
    settings: Data<&WebSettings>,
    Path(id): Path<Uuid>,
    Form(form): Form<InviteForm>,
) -> Response {
    render(async {
        let me = admin(req).await?;
        me.check_csrf(&form.csrf)?;
        let invitation = crate::invite(
            &state.store,
            me.admin(ADMINS_ONLY)?,
            id,
            &form.email,
            &settings.base_url(req),
        )
        .await?;
        let name = state
            .store
            .get_user(me.principal.brokerage_id, id)
            .await?
            .map_or_else(|| "them".to_owned(), |u| u.name);
        users_page(&state, &me, Some((name, invitation.url))).await
    })
    .await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

#[handler]
pub async fn deactivate(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Response {
    render(async {
        let me = admin(req).await?;
        me.check_csrf(&form.csrf)?;
        if id == me.principal.user_id {
            return Err(PageError::BadForm(
                "an admin cannot deactivate themselves".into(),
            ));
        }
        state
            .store
            .deactivate_user(me.admin(ADMINS_ONLY)?, id)
            .await?
            .ok_or_else(|| PageError::not_found(format!("user {id}")))?;
        Ok(layout::see_other("/admin/users"))
    })
    .await
}

#[derive(Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    subject: Option<String>,
    before: Option<String>,
}

#[handler]
pub async fn audit_log(
    req: &Request,
    state: Data<&ApiState>,
    Query(query): Query<AuditQuery>,
) -> Response {
    render(async {
        let me = admin(req).await?;
        let action = query.action.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned);
        let before = match query.before.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().ok().filter(|b| *b > 0).ok_or_else(|| {
                PageError::BadForm(format!("{raw:?} is not an entry number"))
            })?),
        };
        let filter = AuditFilter {
            actor_id: id_param(query.actor.as_deref(), "person")?,
            subject_id: id_param(query.subject.as_deref(), "subject")?,
            action: action.clone(),
            before,
        };
        let mut entries = state.store.audit_entries(me.admin(ADMINS_ONLY)?, &filter, AUDIT_PAGE).await?;
        let more = entries.len() > AUDIT_PAGE as usize;
        entries.truncate(AUDIT_PAGE as usize);
        let users = state.store.list_users(me.principal.brokerage_id, None, 1000).await?;
        let who = |id: Uuid| users.iter().find(|u| u.id == id).map_or_else(|| id.to_string(), |u| u.name.clone());
        let body = html! {
            (admin_nav("/admin/audit"))
            h1 { "Audit log" }
            p.muted { "Every change and every read of client data, newest first; each entry is chained to the one before it (" code { "troupe audit verify" } " checks the chain)." }
            form.filters method="get" action="/admin/audit" {
                label { "Action " input type="text" name="action" value=(action.as_deref().unwrap_or("")) placeholder="e.g. persona.read"; }
                label { "Person "
                    select name="actor" {
                        option value="" { "anyone" }
                        @for u in &users { option value=(u.id) selected[filter.actor_id == Some(u.id)] { (u.name) } }
                    }
                }
                button type="submit" { "Filter" }
            }
            @if entries.is_empty() { div.empty { p { "No entry matches." } } }
            @else {
                table data-table="audit" {
                    thead { tr { th { "#" } th { "When" } th { "Who" } th { "Action" } th { "Subject" } th { "Detail" } } }
                    tbody {
                        @for e in &entries {
                            tr {
                                td.number { (e.seq) }
                                td { (e.at.format("%Y-%m-%d %H:%M:%S")) }
                                td { (who(e.actor_id)) }
                                td { code { (e.action) } }
                                td { (e.subject_type) " " a href={ "/admin/audit?subject=" (e.subject_id) } { (e.subject_id.simple().to_string().get(..8).unwrap_or("")) } }
                                td.detail { code { (e.detail.to_string()) } }
                            }
                        }
                    }
                }
                @if more {
                    p { a href={ "/admin/audit?before=" (entries.last().map_or(0, |e| e.seq)) "&action=" (action.as_deref().unwrap_or("")) } { "Older entries" } }
                }
            }
        };
        Ok(layout::page(&me, Section::Admin, "Audit log", body))
    })
    .await
}
