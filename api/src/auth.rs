//! Bearer API-key authentication: resolves `trp_<id>_<secret>` to the calling principal.

use poem::{Request, http::StatusCode};
use poem_openapi::{SecurityScheme, auth::Bearer};
use troupe_shared::auth::{Admin, Principal, hash_secret, hashes_match, parse_token};

use crate::{ApiState, problem::ApiError};

/// `Authorization: Bearer trp_<key id>_<secret>`, scoped to the key's brokerage.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_key")]
pub struct ApiKey(pub Principal);

async fn check_key(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = req
        .data::<ApiState>()
        .expect("ApiState is attached to every route");
    authenticate(state, &bearer.token).await
}

/// The principal behind an active key of an active user; 401 for anything else.
pub async fn authenticate(state: &ApiState, token: &str) -> poem::Result<Principal> {
    let unauthorized = || poem::Error::from_status(StatusCode::UNAUTHORIZED);
    let (key_id, secret) = parse_token(token).ok_or_else(unauthorized)?;
    let (principal, stored_hash) = state
        .store
        .principal_for_key(key_id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(unauthorized)?;
    if !hashes_match(&hash_secret(secret), &stored_hash) {
        return Err(unauthorized());
    }
    Ok(principal)
}

/// The caller, if a brokerage admin; `what` says what only admins may do.
pub fn require_admin<'p>(caller: &'p Principal, what: &str) -> Result<Admin<'p>, ApiError> {
    caller
        .as_admin()
        .ok_or_else(|| ApiError::Forbidden(format!("only brokerage admins {what}")))
}
