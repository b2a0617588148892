//! Per-request metrics and request ids. Every request gets an id (the caller's `x-request-id`
//! when it sends a sane one), carried by the span its logs are written in and echoed in the
//! response; its count and latency are recorded by method, route and status.

use std::{sync::Arc, time::Instant};

use poem::{Endpoint, IntoResponse, Request, Response, http::HeaderValue};
use tracing::Instrument;
use uuid::Uuid;

const REQUEST_ID: &str = "x-request-id";

pub async fn record<E: Endpoint>(endpoint: Arc<E>, req: Request) -> poem::Result<Response> {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    let span = tracing::info_span!("request", request_id = %request_id, %method, %path);
    let started = Instant::now();
    let mut response = match endpoint.call(req).instrument(span).await {
        Ok(output) => output.into_response(),
        Err(error) => error.into_response(),
    };
    let status = response.status();
    // Unknown paths share one label, so scanners cannot grow the series without bound.
    let route = if status == poem::http::StatusCode::NOT_FOUND && !is_known(&path) {
        "unmatched".to_owned()
    } else {
        route_of(&path)
    };
    metrics::histogram!("troupe_http_request_duration_seconds", "method" => method.clone(), "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("troupe_http_requests_total", "method" => method, "route" => route, "status" => status.as_u16().to_string())
        .increment(1);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// The path with ids replaced: `/api/v1/simulations/:id/status`.
fn route_of(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if Uuid::try_parse(segment).is_ok() {
                ":id"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn is_known(path: &str) -> bool {
    [
        "/api/v1/",
        "/ws/",
        "/healthz",
        "/readyz",
        "/metrics",
        "/docs",
        "/openapi.json",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_folded_out_of_routes() {
        assert_eq!(
            route_of("/api/v1/simulations/0192f3a4-5b6c-7d8e-9f00-112233445566/status"),
            "/api/v1/simulations/:id/status"
        );
        assert_eq!(route_of("/healthz"), "/healthz");
    }
}
