//! Prometheus metrics: one recorder per process, rendered on `/metrics` by the API (and, for a
//! distributed worker or scheduler, by a listener of its own at `TROUPE_METRICS_BIND`).

use std::{net::SocketAddr, sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use poem::{
    EndpointExt, Route, get, handler,
    listener::{Acceptor, Listener},
    web::Data,
};
use tokio_util::sync::CancellationToken;

/// Latency buckets, in seconds, for calls, waits and runs.
const BUCKETS: &[f64] = &[
    0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The process's recorder, installed on first use.
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .expect("non-empty buckets")
                .install_recorder()
                .expect("the only metrics recorder of this process");
            let upkeep = handle.clone();
            // Histograms are compacted periodically; without it they only grow.
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
            handle
        })
        .clone()
}

#[handler]
fn render(handle: Data<&PrometheusHandle>) -> String {
    handle.render()
}

#[handler]
fn alive() -> &'static str {
    "ok"
}

/// Serves `/metrics` (and `/healthz`, for a probe) at `addr` until `shutdown`.
pub async fn serve_metrics(addr: SocketAddr, shutdown: CancellationToken) -> std::io::Result<()> {
    let app = Route::new()
        .at("/metrics", get(render))
        .at("/healthz", get(alive))
        .data(metrics());
    // Bound here rather than by the server, so that the address (a port 0's too) is logged.
    let acceptor = poem::listener::TcpListener::bind(addr)
        .into_acceptor()
        .await?;
    if let Some(bound) = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
    {
        tracing::info!(addr = %bound, "metrics listening");
    }
    poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(
            app,
            shutdown.cancelled_owned(),
            Some(Duration::from_secs(1)),
        )
        .await
}
