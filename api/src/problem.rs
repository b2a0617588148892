//! The one API error type, and its RFC 9457 `application/problem+json` rendering. Every error the
//! service answers with — ours, poem's (bad JSON, unknown routes) and the auth scheme's — leaves
//! through [`render`], so clients see one shape with a stable `type`.

use poem::{Response, error::ResponseError, http::StatusCode};
use poem_openapi::{
    ApiResponse, Object,
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};
use serde::Serialize;
use troupe_shared::StoreError;
use troupe_shared::causes::Causes;

use crate::contract::Violation;

const TYPE_BASE: &str = "https://troupe.dev/problems/";
pub const CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem detail.
#[derive(Debug, Serialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Problem {
    /// A stable URI naming the kind of problem; branch on this.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Each thing wrong with the request: where (a JSON pointer into the body) and what.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[oai(default, skip_serializing_if_is_empty)]
    pub errors: Vec<FieldError>,
}

/// One thing wrong with a request: in its body (`pointer`) or its query (`parameter`).
#[derive(Debug, Clone, Serialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FieldError {
    /// An RFC 6901 JSON pointer into the request body (`""`: the body itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// A query parameter's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    pub detail: String,
}

impl From<Violation> for FieldError {
    fn from(v: Violation) -> Self {
        FieldError {
            pointer: Some(v.pointer),
            parameter: None,
            detail: v.detail,
        }
    }
}

/// The first violation's words, and how many more there are.
fn summary(violations: &[Violation]) -> String {
    match violations {
        [] => "the request is not valid".to_owned(),
        [only] => only.detail.clone(),
        [first, rest @ ..] => format!("{} (and {} more: see `errors`)", first.detail, rest.len()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0} not found")]
    NotFound(String),
    /// The body breaks the published schema (an unknown field, a wrong type, a value out of
    /// range): a 400, each violation named.
    #[error("{}", summary(.0))]
    InvalidBody(Vec<Violation>),
    /// A query parameter breaks the published schema: a 400, each named (its name stands in
    /// the violation's `pointer`).
    #[error("{}", summary(.0))]
    InvalidQuery(Vec<Violation>),
    /// The body fits the schema but breaks a rule between its fields (a budget's minimum above
    /// its maximum): a 422, each violation named.
    #[error("{}", summary(.0))]
    BrokenRule(Vec<Violation>),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Conflict(String),
    /// A conditional write's precondition (`If-Match`, a version) no longer holds.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unavailable(String),
    /// The brokerage has as much work waiting as it may: a 429 with `Retry-After`.
    #[error("{0}")]
    TooManyRequests(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        if let Some(what) = err.unreachable() {
            // An outage is the client's to retry, not a fault of the request: a 503 that names
            // no internals (the log has the cause).
            tracing::warn!(error = %Causes(&err), "{what} unreachable");
            return ApiError::Unavailable(format!("the {what} is unavailable; try again shortly"));
        }
        match err {
            StoreError::Duplicate(detail) | StoreError::Contended(detail) => {
                ApiError::Conflict(detail)
            }
            StoreError::Forbidden(detail) => ApiError::Forbidden(detail),
            StoreError::Invalid(detail) => ApiError::Validation(detail),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

/// What a 503 asks the client to wait before trying again.
const RETRY_AFTER_SECS: &str = "5";
/// What a brokerage at its limit of waiting work is asked to wait: runs take minutes.
const AT_CAPACITY_RETRY_AFTER_SECS: &str = "30";

impl ApiError {
    /// The brokerage has `active` runs waiting or running, its limit.
    pub(crate) fn at_capacity(active: u64, runs: &str) -> Self {
        ApiError::TooManyRequests(format!(
            "your brokerage has {active} {runs} waiting or running, as many as it may; \
             submit again once some have finished"
        ))
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "not-found",
            ApiError::InvalidBody(_) => "invalid-body",
            ApiError::InvalidQuery(_) => "invalid-query",
            ApiError::BrokenRule(_) => "validation-failed",
            ApiError::Validation(_) => "validation-failed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed(_) => "precondition-failed",
            ApiError::IdempotencyKeyReused => "idempotency-key-reused",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::TooManyRequests(_) => "too-many-requests",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::InvalidBody(_) | ApiError::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            ApiError::BrokenRule(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Validation(_) | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        if let ApiError::Internal(_) = self {
            // The client learns nothing of the inside; the log gets the whole cause chain.
            tracing::error!(error = %Causes(self), "internal error");
        }
        let errors = match self {
            ApiError::InvalidBody(violations) | ApiError::BrokenRule(violations) => {
                violations.iter().cloned().map(FieldError::from).collect()
            }
            ApiError::InvalidQuery(violations) => violations
                .iter()
                .map(|v| FieldError {
                    pointer: None,
                    parameter: Some(v.pointer.clone()),
                    detail: v.detail.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut response = problem_response(self.status(), self.slug(), &self.to_string(), errors);
        let retry_after = match self {
            ApiError::Unavailable(_) => Some(RETRY_AFTER_SECS),
            ApiError::TooManyRequests(_) => Some(AT_CAPACITY_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                poem::http::header::RETRY_AFTER,
                poem::http::HeaderValue::from_static(seconds),
            );
        }
        response
    }
}

impl poem::IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.as_response()
    }
}

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "A problem: RFC 9457 problem details with a stable `type`.",
                status: None,
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: CONTENT_TYPE,
                    schema: Problem::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

/// Renders any error as a problem; ours keep their own type, the framework's are classified by
/// status.
pub fn render(err: poem::Error) -> Response {
    if let Some(api_error) = err.downcast_ref::<ApiError>() {
        return api_error.as_response();
    }
    let status = err.status();
    let slug = match status {
        StatusCode::BAD_REQUEST => "bad-request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad-request",
    };
    let detail = match status {
        StatusCode::UNAUTHORIZED => {
            "a valid API key is required: Authorization: Bearer trp_…".to_owned()
        }
        StatusCode::SERVICE_UNAVAILABLE => err.to_string(),
        s if s.is_server_error() => {
            tracing::error!(error = %err, "internal error");
            "internal error".to_owned()
        }
        _ => err.to_string(),
    };
    problem_response(status, slug, &detail, Vec::new())
}

fn problem_response(
    status: StatusCode,
    slug: &str,
    detail: &str,
    errors: Vec<FieldError>,
) -> Response {
    let problem = Problem {
        kind: format!("{TYPE_BASE}{slug}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
        errors,
    };
    Response::builder()
        .status(status)
        .content_type(CONTENT_TYPE)
        .body(serde_json::to_vec(&problem).unwrap_or_default())
}
