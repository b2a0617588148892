//! Liveness and readiness probes.

use poem::{handler, http::StatusCode, web::Data, web::Json};
use serde_json::{Value, json};

use crate::ApiState;

/// The process is up.
#[handler]
pub fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database and the job queue answer.
#[handler]
pub async fn readyz(state: Data<&ApiState>) -> poem::Result<Json<Value>> {
    let database = state.store.ping().await.map_err(|e| e.to_string());
    let queue = state.queues.ping().await.map_err(|e| e.to_string());
    let checks = json!({
        "database": database.as_ref().err().map_or("ok", String::as_str),
        "queue": queue.as_ref().err().map_or("ok", String::as_str),
    });
    if database.is_ok() && queue.is_ok() {
        Ok(Json(json!({ "status": "ready", "checks": checks })))
    } else {
        tracing::warn!(%checks, "not ready");
        Err(poem::Error::from_string(
            format!("not ready: {checks}"),
            StatusCode::SERVICE_UNAVAILABLE,
        ))
    }
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
        Err(e) => tracing::warn!(error = %e, "queue depths unavailable"),
    }
    state.metrics.render()
}
