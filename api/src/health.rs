//! Liveness and readiness probes.

use poem::{handler, web::Data, web::Json};
use serde_json::{Value, json};
use troupe_shared::causes::Causes;

use crate::{ApiState, problem::ApiError};

/// The process is up.
#[handler]
pub fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database and the job queue answer. When one does not, a 503
/// `unavailable` problem names it (an operator's probe, so the cause is given too).
#[handler]
pub async fn readyz(state: Data<&ApiState>) -> Result<Json<Value>, ApiError> {
    let database = state.store.ping().await.map_err(|e| Causes(&e).to_string());
    let queue = state
        .queues
        .ping()
        .await
        .map_err(|e| Causes(&e).to_string());
    let checks = json!({
        "database": database.as_ref().err().map_or("ok", String::as_str),
        "queue": queue.as_ref().err().map_or("ok", String::as_str),
    });
    if database.is_ok() && queue.is_ok() {
        return Ok(Json(json!({ "status": "ready", "checks": checks })));
    }
    tracing::warn!(%checks, "not ready");
    let down: Vec<String> = [
        ("the database", &database),
        ("the job queue (Redis)", &queue),
    ]
    .into_iter()
    .filter_map(|(name, check)| {
        check
            .as_ref()
            .err()
            .map(|e| format!("{name} is down ({e})"))
    })
    .collect();
    Err(ApiError::Unavailable(format!(
        "not ready: {}",
        down.join("; ")
    )))
}

/// Prometheus metrics of this process (in the embedded shape: every role's), with the queues'
/// depths read at scrape time.
#[handler]
pub async fn metrics(state: Data<&ApiState>) -> String {
    match state.queues.depths().await {
        Ok(depths) => {
            for (queue, depth) in depths {
                ::metrics::gauge!("troupe_queue_depth", "queue" => queue).set(depth as f64);
            }
        }
        Err(e) => tracing::warn!(error = %Causes(&e), "queue depths unavailable"),
    }
    state.metrics.render()
}
