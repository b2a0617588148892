//! The broker's workspace: server-rendered pages (maud templates, SVG charts drawn here) served by
//! the API role at `/`, beside the JSON API under `/api/v1`. Pages call the same store functions
//! as the API with the signed-in person's [`Principal`](troupe_shared::auth::Principal), so they
//! see exactly what that person's API key would, and answer 404 for the rest. Everything a page
//! needs (styles, the one script) is compiled into the binary: nothing is fetched from another
//! origin, and the Content-Security-Policy says so to the browser.

mod accounts;
mod accuracy;
mod admin;
mod admin_access;
mod assets;
mod calibration;
mod charts;
mod client_form;
mod client_import;
mod clients;
mod deleted_clients;
mod enrichment;
mod error;
mod forms;
mod graph_drawing;
mod layout;
mod listing_form;
mod listing_outcomes;
mod listings;
mod matching;
mod new_simulation;
mod question_findings;
mod results;
mod session;
mod simulation_forms;
mod simulation_outcomes;
mod simulations;

use poem::{EndpointExt, Route, get, http::header, middleware::SetHeader};
use troupe_shared::Config;

pub use accounts::{Invitation, invite};
pub(crate) use error::pages_in_html;
pub(crate) use session::principal_from_cookie;

/// How pages build links and cookies.
#[derive(Clone)]
pub struct WebSettings {
    /// Cookies get `Secure` when people reach the service over HTTPS: the API serves it, or
    /// `TROUPE_PUBLIC_URL` is `https://` (TLS ended at an ingress or a proxy in front).
    pub secure_cookies: bool,
    /// `TROUPE_PUBLIC_URL`: the base of links in invitations.
    pub public_url: Option<String>,
}

/// Only our own origin, no inline script, no framing: a persona's text can never run as code.
/// Listing photos are the brokerage's own links, so images may come from any HTTPS host.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' https: data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; \
     base-uri 'none'; object-src 'none'";

impl WebSettings {
    pub fn new(config: &Config) -> Self {
        WebSettings {
            secure_cookies: config.tls.is_some()
                || config
                    .public_url
                    .as_deref()
                    .is_some_and(|url| url.starts_with("https://")),
            public_url: config.public_url.clone(),
        }
    }

    /// Where this service is reached: `TROUPE_PUBLIC_URL`, else the scheme and `Host` the
    /// request came with.
    pub fn base_url(&self, req: &poem::Request) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let scheme = if self.secure_cookies { "https" } else { "http" };
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("{scheme}://{host}")
    }
}

/// Adds the workspace's pages to `route` (the app attaches [`WebSettings`]).
pub fn mount(route: Route) -> Route {
    let pages = Route::new()
        .at("/", get(simulations::home))
        .at(
            "/sign-in",
            get(accounts::sign_in_form).post(accounts::sign_in),
        )
        .at("/sign-out", poem::post(accounts::sign_out))
        .at(
            "/invitations/:token",
            get(accounts::invitation_form).post(accounts::accept_invitation),
        )
        .at("/simulations", get(simulations::list))
        .at("/simulations/new", get(simulation_forms::chooser))
        .at(
            "/simulations/new/focus-group",
            get(new_simulation::typed_form).post(new_simulation::submit_typed),
        )
        .at(
            "/simulations/new/marketing",
            get(simulation_forms::marketing).post(simulation_forms::submit_marketing),
        )
        .at(
            "/simulations/new/outreach",
            get(simulation_forms::outreach).post(simulation_forms::submit_outreach),
        )
        .at(
            "/simulations/new/individual",
            get(simulation_forms::individual).post(simulation_forms::submit_individual),
        )
        .at("/simulations/:id", get(simulations::page))
        .at("/simulations/:id/report", get(simulations::report))
        .at(
            "/simulations/:id/outcomes",
            poem::post(simulation_outcomes::submit),
        )
        .at(
            "/simulations/:id/tables/:table",
            get(simulations::table_csv),
        )
        .at("/clients", get(clients::list))
        .at(
            "/clients/import",
            get(client_import::form_page).post(client_import::submit),
        )
        .at(
            "/clients/new",
            get(client_form::new_form).post(client_form::create),
        )
        .at(
            "/clients/:id/edit",
            get(client_form::edit_form).post(client_form::update),
        )
        .at("/clients/:id/export", get(client_form::export))
        .at(
            "/clients/:id/delete",
            get(client_form::delete_form).post(client_form::delete),
        )
        .at("/clients/duplicates", get(client_import::duplicates))
        .at("/clients/merge", poem::post(client_import::merge))
        .at("/clients/:id", get(clients::page))
        .at("/listings", get(listings::list))
        .at(
            "/listings/new",
            get(listing_form::new_form).post(listing_form::create),
        )
        .at(
            "/listings/import",
            get(listing_form::import_page).post(listing_form::import_submit),
        )
        .at("/listings/:id", get(listings::page))
        .at(
            "/listings/:id/edit",
            get(listing_form::edit_form).post(listing_form::update),
        )
        .at("/listings/:id/match", poem::post(matching::for_listing))
        .at(
            "/listings/:id/outcomes",
            poem::post(listing_outcomes::submit),
        )
        .at(
            "/listings/:id/focus-group",
            get(new_simulation::form).post(new_simulation::submit),
        )
        .at("/clients/:id/match", poem::post(matching::for_client))
        .at("/clients/:id/enrich", poem::post(enrichment::submit))
        .at("/clients/:id/enrichments/:run", get(enrichment::status))
        .at("/accuracy", get(accuracy::page))
        .at("/accuracy/refit", poem::post(calibration::refit))
        .at("/matching", get(matching::run_list))
        .at("/matching/nightly", get(matching::nightly_feed))
        .at("/matching/:id", get(matching::run_page))
        .at(
            "/matching/recommendations/:id/feedback",
            poem::post(matching::feedback),
        )
        .at("/admin/users", get(admin::people).post(admin::add_user))
        .at(
            "/admin/users/:id/invite",
            poem::post(admin::send_invitation),
        )
        .at("/admin/users/:id/deactivate", poem::post(admin::deactivate))
        .at("/admin/audit", get(admin::audit_log))
        .at("/admin/deleted-clients", get(deleted_clients::page))
        .at(
            "/admin/deleted-clients/:id/restore",
            poem::post(deleted_clients::restore),
        )
        .at(
            "/admin/deleted-clients/:id/erase",
            poem::post(deleted_clients::erase),
        )
        .at(
            "/admin/settings/deletion",
            poem::post(deleted_clients::set_policy),
        )
        .at(
            "/admin/teams",
            get(admin_access::teams).post(admin_access::add_team),
        )
        .at(
            "/admin/keys",
            get(admin_access::keys).post(admin_access::mint_key),
        )
        .at(
            "/admin/keys/:id/revoke",
            poem::post(admin_access::revoke_key),
        )
        .at(
            "/admin/webhooks",
            get(admin_access::webhooks).post(admin_access::add_webhook),
        )
        .at("/admin/webhooks/:id", get(admin_access::deliveries))
        .at(
            "/admin/webhooks/:id/toggle",
            poem::post(admin_access::toggle_webhook),
        )
        .at(
            "/admin/webhooks/:id/delete",
            poem::post(admin_access::delete_webhook),
        )
        .at(
            "/admin/webhooks/:id/deliveries/:delivery/redeliver",
            poem::post(admin_access::redeliver),
        )
        .at("/assets/:name", get(assets::serve));
    let pages = pages
        .with(
            SetHeader::new()
                .overriding(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
                .overriding(header::X_FRAME_OPTIONS, "DENY")
                .overriding(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
                .overriding(header::REFERRER_POLICY, "same-origin"),
        )
        .boxed();
    route.nest("/", pages)
}
