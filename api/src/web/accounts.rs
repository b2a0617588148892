//! Signing in: invitations (an admin's one-time link to set a password), sign-in with email and
//! password (argon2id), throttled per account and per address, and sign-out.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use chrono::{DateTime, Duration, Utc};
use maud::html;
use poem::{
    Request, Response, handler,
    http::StatusCode,
    web::{Data, Form, Path, Query},
};
use serde::Deserialize;
use troupe_shared::{
    Store,
    auth::{Admin, hash_secret, new_token},
};
use uuid::Uuid;

use super::{
    WebSettings,
    error::{PageError, render},
    layout,
    session::{self, LIFETIME_HOURS, same_origin},
};
use crate::{ApiState, problem::ApiError};

const INVITATION_DAYS: i64 = 7;
const MIN_PASSWORD: usize = 12;
/// Failed sign-ins within this window count towards the limits below.
const THROTTLE_WINDOW_MINUTES: i64 = 15;
const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
const MAX_FAILURES_PER_ADDRESS: i64 = 20;

/// A one-time link to set a password.
pub struct Invitation {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Invites an active user of the admin's brokerage to sign in as `email`: the link (under `base`,
/// e.g. `https://troupe.example.com`) lets them set a password once within seven days.
pub async fn invite(
    store: &Store,
    admin: Admin<'_>,
    user_id: Uuid,
    email: &str,
    base: &str,
) -> Result<Invitation, ApiError> {
    let email = email.trim();
    let plausible = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if !plausible {
        return Err(ApiError::Validation(format!(
            "{email:?} is not an email address"
        )));
    }
    let token = new_token("inv_");
    let expires_at = Utc::now() + Duration::days(INVITATION_DAYS);
    store
        .invite_user(admin, user_id, email, &hash_secret(&token), expires_at)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("active user {user_id}")))?;
    Ok(Invitation {
        url: format!("{}/invitations/{token}", base.trim_end_matches('/')),
        expires_at,
    })
}

#[derive(Deserialize)]
pub struct NextPage {
    next: Option<String>,
}

#[handler]
pub async fn sign_in_form(Query(query): Query<NextPage>) -> Response {
    sign_in_page(StatusCode::OK, query.next.as_deref(), None, "")
}

fn sign_in_page(
    status: StatusCode,
    next: Option<&str>,
    problem: Option<&str>,
    email: &str,
) -> Response {
    let body = html! {
        h1 { "Sign in to Troupe" }
        @if let Some(problem) = problem {
            p.alert role="alert" { (problem) }
        }
        form.stack method="post" action="/sign-in" {
            input type="hidden" name="next" value=(next.unwrap_or("/"));
            label for="email" { "Email" }
            input #email type="email" name="email" autocomplete="username" required value=(email);
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
        p.muted { "New here? Ask your brokerage admin for an invitation link." }
    };
    layout::bare(status, "Sign in", body)
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

#[handler]
pub async fn sign_in(
    req: &Request,
    state: Data<&ApiState>,
    settings: Data<&WebSettings>,
    Form(form): Form<SignInForm>,
) -> Response {
    render(async {
        same_origin(req)?;
        let email = form.email.trim().to_lowercase();
        let window = Duration::minutes(THROTTLE_WINDOW_MINUTES);
        let account_subject = format!("account:{email}");
        let address_subject = format!(
            "address:{}",
            req.remote_addr()
                .as_socket_addr()
                .map_or_else(String::new, |a| a.ip().to_string())
        );
        let store = &state.store;
        if store.sign_in_failures(&account_subject, window).await? >= MAX_FAILURES_PER_ACCOUNT
            || store.sign_in_failures(&address_subject, window).await? >= MAX_FAILURES_PER_ADDRESS
        {
            return Err(PageError::Throttled(window.num_seconds() as u64));
        }
        let account = store.account(&email).await?;
        let stored = account.as_ref().and_then(|a| a.password_hash.clone());
        // An unknown account costs the same hash as a known one: timing tells nothing.
        let matches = verify_password(form.password, stored).await?;
        let Some(account) = account.filter(|_| matches) else {
            store
                .record_sign_in_failure(&[account_subject, address_subject], window)
                .await?;
            return Ok(sign_in_page(
                StatusCode::UNAUTHORIZED,
                form.next.as_deref(),
                Some("That email and password do not match an account."),
                &email,
            ));
        };
        start_session(
            store,
            &settings,
            account.user_id,
            local(form.next.as_deref()),
        )
        .await
    })
    .await
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

#[handler]
pub async fn sign_out(
    req: &Request,
    state: Data<&ApiState>,
    settings: Data<&WebSettings>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    render(async {
        let me = session::SignedIn::from_request(req).await?;
        me.check_csrf(&form.csrf)?;
        if let Some(token) = session::session_token(req) {
            state.store.close_session(&hash_secret(token)).await?;
        }
        Ok(with_cookie(
            layout::see_other("/sign-in"),
            &session::cookie(&settings, None),
        ))
    })
    .await
}

#[handler]
pub async fn invitation_form(state: Data<&ApiState>, Path(token): Path<String>) -> Response {
    render(async {
        let (name, email) = invitation(&state, &token).await?;
        Ok(invitation_page(StatusCode::OK, &token, &name, &email, None))
    })
    .await
}

fn invitation_page(
    status: StatusCode,
    token: &str,
    name: &str,
    email: &str,
    problem: Option<&str>,
) -> Response {
    let body = html! {
        h1 { "Welcome to Troupe, " (name) }
        p { "Choose a password to sign in as " strong { (email) } "." }
        @if let Some(problem) = problem {
            p.alert role="alert" { (problem) }
        }
        form.stack method="post" action={ "/invitations/" (token) } {
            label for="password" { "Password (at least " (MIN_PASSWORD) " characters)" }
            input #password type="password" name="password" autocomplete="new-password" minlength=(MIN_PASSWORD) required;
            label for="confirm" { "The same password again" }
            input #confirm type="password" name="confirm" autocomplete="new-password" required;
            button type="submit" { "Set password and sign in" }
        }
    };
    layout::bare(status, "Set your password", body)
}

async fn invitation(state: &ApiState, token: &str) -> Result<(String, String), PageError> {
    state
        .store
        .invitation(&hash_secret(token))
        .await?
        .ok_or_else(|| {
            PageError::not_found(
                "this invitation (it may have been used or have expired: ask your admin for a new one) was",
            )
        })
}

#[derive(Deserialize)]
pub struct NewPassword {
    password: String,
    confirm: String,
}

#[handler]
pub async fn accept_invitation(
    req: &Request,
    state: Data<&ApiState>,
    settings: Data<&WebSettings>,
    Path(token): Path<String>,
    Form(form): Form<NewPassword>,
) -> Response {
    render(async {
        same_origin(req)?;
        let (name, email) = invitation(&state, &token).await?;
        let problem = if form.password.chars().count() < MIN_PASSWORD {
            Some(format!(
                "The password must have at least {MIN_PASSWORD} characters."
            ))
        } else if form.password.len() > 1024 {
            Some("The password must have at most 1024 bytes.".to_owned())
        } else if form.password != form.confirm {
            Some("The two passwords differ.".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            return Ok(invitation_page(
                StatusCode::BAD_REQUEST,
                &token,
                &name,
                &email,
                Some(&problem),
            ));
        }
        let hashed = hash_password(form.password).await?;
        let user_id = state
            .store
            .accept_invitation(&hash_secret(&token), &hashed)
            .await?
            .ok_or_else(|| PageError::not_found("invitation"))?;
        start_session(&state.store, &settings, user_id, "/").await
    })
    .await
}

/// Opens a session for an active user and sends them to `to` with its cookie.
async fn start_session(
    store: &Store,
    settings: &WebSettings,
    user_id: Uuid,
    to: &str,
) -> Result<Response, PageError> {
    let token = new_token("tss_");
    let lifetime = Duration::hours(LIFETIME_HOURS);
    if !store
        .open_session(user_id, &hash_secret(&token), &new_token(""), lifetime)
        .await?
    {
        return Err(PageError::not_found("active user"));
    }
    Ok(with_cookie(
        layout::see_other(to),
        &session::cookie(settings, Some(&token)),
    ))
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = cookie.parse() {
        response.headers_mut().insert("set-cookie", value);
    }
    response
}

/// `next` if it is a path on this site (never `//elsewhere` or `https://…`), else the home page.
fn local(next: Option<&str>) -> &str {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/")
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), off the async threads.
async fn hash_password(password: String) -> Result<String, PageError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|e| ApiError::Internal(Box::new(e)))?
    .map_err(|e| PageError::Api(ApiError::Internal(e.to_string().into())))
}

/// Whether `password` matches `stored`; without a stored hash, a throwaway one is checked so the
/// answer takes as long.
async fn verify_password(password: String, stored: Option<String>) -> Result<bool, PageError> {
    tokio::task::spawn_blocking(move || {
        let decoy;
        let hash = match &stored {
            Some(hash) => hash.as_str(),
            None => {
                let salt = SaltString::generate(&mut OsRng);
                decoy = Argon2::default()
                    .hash_password(b"no such account", &salt)
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                decoy.as_str()
            }
        };
        let matched = PasswordHash::new(hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        });
        matched && stored.is_some()
    })
    .await
    .map_err(|e| PageError::Api(ApiError::Internal(Box::new(e))))
}
