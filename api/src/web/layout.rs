//! The page shell: navigation, the signed-in person and sign-out, and the stylesheet.

use maud::{DOCTYPE, Markup, html};
use poem::{IntoResponse, Response, http::StatusCode, web::Html};

use troupe_shared::domain::Role;

use super::session::SignedIn;

/// Which navigation entry a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Simulations,
    Clients,
    Listings,
    Matching,
    Accuracy,
    /// Only brokerage admins see it in the navigation.
    Admin,
}

const SECTIONS: [(Section, &str, &str); 5] = [
    (Section::Simulations, "/simulations", "Simulations"),
    (Section::Clients, "/clients", "Clients"),
    (Section::Listings, "/listings", "Listings"),
    (Section::Matching, "/matching", "Matching"),
    (Section::Accuracy, "/accuracy", "Accuracy"),
];

fn head(title: &str, pending: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            // A page waiting on a run is reloaded by the script once the run is done (a meta
            // refresh would reload it under the reader every few seconds).
            @if pending { script src="/assets/live.js" defer {} }
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Troupe" }
            link rel="stylesheet" href="/assets/troupe.css";
        }
    }
}

/// A signed-in page in `section`.
pub fn page(me: &SignedIn, section: Section, title: &str, body: Markup) -> Response {
    waiting(me, section, title, body, false)
}

/// A signed-in page that, while `pending`, reloads once what it waits for has finished.
pub fn waiting(
    me: &SignedIn,
    section: Section,
    title: &str,
    body: Markup,
    pending: bool,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, pending))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "Troupe" }
                    nav aria-label="Main" {
                        ul {
                            @for (entry, href, label) in SECTIONS {
                                li {
                                    @if entry == section {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                            @if me.principal.role == Role::BrokerageAdmin {
                                li {
                                    a href="/admin/users" aria-current=[(section == Section::Admin).then_some("page")] { "Admin" }
                                }
                            }
                        }
                    }
                    div.who {
                        span { (me.name) " · " (me.principal.role.as_str().replace('_', " ")) }
                        form method="post" action="/sign-out" {
                            input type="hidden" name="csrf" value=(me.csrf_token);
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main data-pending[pending] { (body) }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// A page outside the workspace (sign-in, invitations, errors).
pub fn bare(status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, false))
            body.bare {
                main #main { (body) }
            }
        }
    };
    Html(markup.into_string())
        .with_status(status)
        .into_response()
}

/// A page that only says what happened.
pub fn message(status: StatusCode, title: &str, detail: &str) -> Response {
    bare(
        status,
        title,
        html! {
            h1 { (title) }
            p { (detail) }
            p { a href="/" { "Back to the workspace" } }
        },
    )
}

/// A 303 to `to`: where a form's work is shown (post, then redirect, then get).
pub fn see_other(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", to)
        .finish()
}
