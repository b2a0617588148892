//! The admin's page of deleted clients: who may delete shared clients (the brokerage's setting),
//! and the clients waiting for erasure, each to restore or to erase at once. The same store calls
//! and rules as the API.

use maud::html;
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;
use troupe_shared::domain::{DeletedPersona, DeletionPolicy, RESTORE_WINDOW, Visibility};
use uuid::Uuid;

use super::{
    admin_access::admin_nav,
    error::{PageError, render},
    layout::{self, Section},
    matching::CsrfForm,
    session::SignedIn,
};
use crate::{ApiState, deletion::erase_client_now};

const ADMINS_ONLY: &str = "restore or erase deleted clients and set who may delete them";
const PAGE: u32 = 200;

#[handler]
pub async fn page(req: &Request, state: Data<&ApiState>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let admin = me.admin(ADMINS_ONLY)?;
        let policy = state.store.deletion_policy(admin.brokerage_id).await?;
        let mut deleted = state.store.deleted_personas(admin, None, PAGE).await?;
        deleted.sort_by_key(|d| d.erase_after);
        let users = state
            .store
            .list_users(admin.brokerage_id, None, 1000)
            .await?;
        let user_name = |id: Option<Uuid>| {
            id.and_then(|id| users.iter().find(|u| u.id == id))
                .map_or("—", |u| u.name.as_str())
        };
        let days = RESTORE_WINDOW.num_days();
        let body = html! {
            (admin_nav("/admin/deleted-clients"))
            h1 { "Deleted clients" }
            p.muted { "A deleted client is hidden from everyone at once and erased for good " (days) " days later. Until then you can restore them as they were, or erase them now if they asked to be forgotten." }
            @if deleted.is_empty() {
                div.empty { p { "No deleted clients are waiting for erasure." } }
            } @else {
                table data-table="deleted-clients" {
                    thead { tr { th { "Client" } th { "Agent" } th { "Deleted by" } th { "Deleted" } th { "Erased after" } th { "" } } }
                    tbody {
                        @for client in &deleted {
                            tr {
                                td { (label(client)) }
                                td { (user_name(Some(client.agent_id))) }
                                td { (user_name(client.deleted_by)) }
                                td { (client.deleted_at.format("%Y-%m-%d %H:%M")) }
                                td { (client.erase_after.format("%Y-%m-%d %H:%M")) }
                                td {
                                    form.inline method="post" action={ "/admin/deleted-clients/" (client.id) "/restore" } {
                                        input type="hidden" name="csrf" value=(me.csrf_token);
                                        button type="submit" { "Restore " span.visually-hidden { (label(client)) } }
                                    }
                                    " "
                                    form.inline method="post" action={ "/admin/deleted-clients/" (client.id) "/erase" } {
                                        input type="hidden" name="csrf" value=(me.csrf_token);
                                        button.danger type="submit" { "Erase now " span.visually-hidden { (label(client)) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Who may delete shared clients" }
            form.stack method="post" action="/admin/settings/deletion" {
                input type="hidden" name="csrf" value=(me.csrf_token);
                fieldset {
                    legend { "A client shared with a team or the whole brokerage can be deleted by" }
                    label.check {
                        input type="radio" name="deletion" value="lead_or_admin" checked[policy == DeletionPolicy::LeadOrAdmin];
                        " a team lead of the client's team, or an admin"
                    }
                    label.check {
                        input type="radio" name="deletion" value="owner" checked[policy == DeletionPolicy::Owner];
                        " also the agent who owns the client"
                    }
                }
                p.muted { "A private client is always their agent's to delete." }
                button type="submit" { "Save" }
            }
        };
        Ok(layout::page(&me, Section::Admin, "Deleted clients", body))
    })
    .await
}

/// A deleted client as the list names them: by name where the admin saw them before.
fn label(client: &DeletedPersona) -> String {
    match (&client.name, client.visibility) {
        (Some(name), _) => name.clone(),
        (None, Visibility::Team) => "A client shared with another team".into(),
        (None, _) => "A private client of their agent".into(),
    }
}

#[derive(Deserialize)]
pub struct PolicyForm {
    csrf: String,
    deletion: String,
}

#[handler]
pub async fn set_policy(
    req: &Request,
    state: Data<&ApiState>,
    Form(form): Form<PolicyForm>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let admin = me.admin(ADMINS_ONLY)?;
        me.check_csrf(&form.csrf)?;
        let policy = DeletionPolicy::parse(&form.deletion).ok_or_else(|| {
            PageError::BadForm(format!("{:?} is not a deletion setting", form.deletion))
        })?;
        state.store.set_deletion_policy(admin, policy).await?;
        Ok(layout::see_other("/admin/deleted-clients"))
    })
    .await
}

#[handler]
pub async fn restore(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let admin = me.admin(ADMINS_ONLY)?;
        me.check_csrf(&form.csrf)?;
        if !state.store.restore_persona(admin, id).await? {
            return Err(PageError::not_found(format!("deleted client {id}")));
        }
        Ok(layout::see_other("/admin/deleted-clients"))
    })
    .await
}

#[handler]
pub async fn erase(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let admin = me.admin(ADMINS_ONLY)?;
        me.check_csrf(&form.csrf)?;
        Box::pin(erase_client_now(&state, admin, id)).await?;
        Ok(layout::see_other("/admin/deleted-clients"))
    })
    .await
}
