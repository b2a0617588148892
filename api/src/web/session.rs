//! Who is signed in: the session cookie (a random token; the database keeps its hash, so ending
//! the row ends the session everywhere), the CSRF token every state-changing form carries, and
//! the same-origin check that guards forms before there is a session (sign-in, invitations).

use poem::Request;
use troupe_shared::{
    auth::{Admin, Principal, hash_secret, hashes_match},
    store::SessionPrincipal,
};

use super::{WebSettings, error::PageError};
use crate::{ApiState, auth::require_admin, problem::ApiError};

pub const COOKIE: &str = "troupe_session";
/// A session lasts a working day; signing in again starts a new one.
pub const LIFETIME_HOURS: i64 = 12;

/// The signed-in person and what their pages need to know of them.
pub struct SignedIn {
    pub principal: Principal,
    pub name: String,
    /// Put in every form as `csrf`; checked by [`SignedIn::check_csrf`].
    pub csrf_token: String,
}

impl SignedIn {
    /// The signed-in person, or a redirect to sign in and come back here.
    pub async fn from_request(req: &Request) -> Result<SignedIn, PageError> {
        let state = req.data::<ApiState>().expect("ApiState is attached");
        let sign_in = || PageError::SignIn {
            next: req
                .uri()
                .path_and_query()
                .map_or("/".to_owned(), |p| p.as_str().to_owned()),
        };
        let token = session_token(req).ok_or_else(sign_in)?;
        let found = state
            .store
            .session_principal(&hash_secret(token))
            .await?
            .ok_or_else(sign_in)?;
        let SessionPrincipal {
            principal,
            name,
            csrf_token,
        } = found;
        Ok(SignedIn {
            principal,
            name,
            csrf_token,
        })
    }

    /// The signed-in person as a brokerage admin, for the store's admin-only operations;
    /// `what` says what only admins may do.
    pub fn admin(&self, what: &str) -> Result<Admin<'_>, PageError> {
        Ok(require_admin(&self.principal, what)?)
    }

    /// Refuses a form whose `csrf` is not this session's (a page on another site posting here).
    pub fn check_csrf(&self, presented: &str) -> Result<(), PageError> {
        if hashes_match(presented, &self.csrf_token) {
            Ok(())
        } else {
            Err(PageError::Api(ApiError::Forbidden(
                "this form has expired or did not come from Troupe: reload the page and try again"
                    .into(),
            )))
        }
    }
}

/// The session cookie's token, if the request carries one.
pub fn session_token(req: &Request) -> Option<&str> {
    req.headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// `Set-Cookie` for a new session (or, with `None`, one that clears it).
pub fn cookie(settings: &WebSettings, token: Option<&str>) -> String {
    let secure = if settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    match token {
        Some(token) => format!(
            "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            LIFETIME_HOURS * 3600
        ),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}

/// A browser sends `Origin` with every form post and WebSocket; one naming another site is
/// refused (login CSRF, cross-site WebSocket hijacking). Requests without it (curl) pass: they
/// carry no ambient cookie unless their sender put it there.
pub fn same_origin(req: &Request) -> Result<(), PageError> {
    let Some(origin) = req
        .headers()
        .get(poem::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(());
    };
    let host = req
        .headers()
        .get(poem::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    if !host.is_empty() && origin_host == host {
        Ok(())
    } else {
        Err(PageError::Api(ApiError::Forbidden(format!(
            "a request from {origin} cannot act on this site"
        ))))
    }
}

/// The caller behind a same-origin request's session cookie (the workspace's live pages open
/// WebSockets with it); `None` without a valid one.
pub(crate) async fn principal_from_cookie(
    req: &Request,
    state: &ApiState,
) -> Result<Option<Principal>, ApiError> {
    let Some(token) = session_token(req) else {
        return Ok(None);
    };
    if same_origin(req).is_err() {
        return Ok(None);
    }
    Ok(state
        .store
        .session_principal(&hash_secret(token))
        .await?
        .map(|found| found.principal))
}
