//! What a page answers when it cannot show what was asked: an HTML page with the status the API
//! would give (404 for what the person may not see), or a redirect to sign in.

use std::sync::Arc;
use troupe_shared::causes::Causes;

use poem::{
    Endpoint, IntoResponse, Request, Response, error::ParsePathError, error::ResponseError,
    http::StatusCode,
};
use troupe_shared::StoreError;
use uuid::Uuid;

use super::layout;
use crate::problem::ApiError;

#[derive(Debug)]
pub enum PageError {
    /// No session (or an ended one): sign in, then come back to `next`.
    SignIn { next: String },
    /// The API's own error, shown in words with its status.
    Api(ApiError),
    /// A form refused for a reason its sender can fix (the same page is not re-rendered).
    BadForm(String),
    /// Too many failed sign-ins: try again after this many seconds.
    Throttled(u64),
}

pub type PageResult = Result<Response, PageError>;

impl From<ApiError> for PageError {
    fn from(err: ApiError) -> Self {
        PageError::Api(err)
    }
}

impl From<StoreError> for PageError {
    fn from(err: StoreError) -> Self {
        PageError::Api(err.into())
    }
}

impl PageError {
    pub fn not_found(what: impl Into<String>) -> Self {
        PageError::Api(ApiError::NotFound(what.into()))
    }
}

/// An id from a page's query (`""`, what a form's "any" choice sends, is none).
pub fn id_param(raw: Option<&str>, what: &str) -> Result<Option<Uuid>, PageError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(raw) => Uuid::try_parse(raw)
            .map(Some)
            .map_err(|_| PageError::BadForm(format!("{raw:?} is not the id of a {what}"))),
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn { next } => {
                let target = format!(
                    "/sign-in?next={}",
                    percent_encoding::utf8_percent_encode(
                        &next,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                );
                layout::see_other(&target)
            }
            PageError::Api(err) => {
                let status = err.status();
                if status.is_server_error() {
                    tracing::error!(error = %Causes(&err), "page failed");
                }
                let title = status.canonical_reason().unwrap_or("Error");
                layout::message(status, title, &err.to_string())
            }
            PageError::BadForm(detail) => {
                layout::message(StatusCode::BAD_REQUEST, "The form was refused", &detail)
            }
            PageError::Throttled(seconds) => {
                let mut response = layout::message(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    &format!(
                        "Too many failed sign-ins for this account or address. Try again in {} minutes.",
                        seconds.div_ceil(60)
                    ),
                );
                response
                    .headers_mut()
                    .insert("retry-after", seconds.to_string().parse().expect("digits"));
                response
            }
        }
    }
}

/// Runs a page's body and turns its error into the page that explains it.
pub async fn render(page: impl Future<Output = PageResult>) -> Response {
    page.await.unwrap_or_else(IntoResponse::into_response)
}

/// Paths that belong to the API, its documents and the probes: their errors stay problem+json.
const MACHINE_PATHS: [&str; 7] = [
    "/api/",
    "/ws/",
    "/docs",
    "/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
];

/// Outside the API, an address that names no page (or names it with a malformed id, such as
/// `/clients/not-a-uuid`) is answered with a page a person can read, not problem+json.
pub async fn pages_in_html<E: Endpoint<Output = Response>>(
    endpoint: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    let path = req.uri().path();
    let page = !MACHINE_PATHS.iter().any(|p| path.starts_with(p));
    match endpoint.call(req).await {
        Err(err) if page => Ok(error_page(&err)),
        answered => answered,
    }
}

fn error_page(err: &poem::Error) -> Response {
    let status = err.status();
    if status == StatusCode::NOT_FOUND || err.is::<ParsePathError>() {
        return layout::message(
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is no page at this address. It may have been mistyped, or what it showed was removed.",
        );
    }
    if status.is_server_error() {
        tracing::error!(error = %err, "page failed");
        return layout::message(
            status,
            "Something went wrong",
            "The page could not be shown. Try again shortly.",
        );
    }
    let title = status.canonical_reason().unwrap_or("Error");
    layout::message(status, title, &err.to_string())
}
