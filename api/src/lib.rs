//! The HTTP API: validates, stores, enqueues and reads. It never calls an LLM.

mod audit;
mod auth;
mod contract;
mod deletion;
mod directory;
mod duplicates;
mod enrichment;
mod external_ids;
mod health;
mod insights;
mod live;
mod matching;
mod outcomes;
mod pagination;
mod persona_import;
mod personas;
mod places;
mod problem;
mod properties;
mod schedules;
mod segments;
mod simulations;
mod telemetry;
mod web;
mod webhooks;

use std::time::Duration;

use poem::{
    Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Request, Route, get, http::StatusCode,
    middleware::Tracing,
};
use poem_openapi::OpenApiService;
use troupe_shared::{Config, Store, queue::Queues};

pub use audit::chain_reads;
pub use problem::Problem;
pub use schedules::ScheduledSimulations;
pub use web::{Invitation, invite};

/// What every request handler can reach.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub queues: Queues,
    pub idempotency_ttl: Duration,
    /// A simulation's default and largest token budget.
    pub token_budgets: (u64, u64),
    pub limits: troupe_shared::config::SimulationLimits,
    /// This process's Prometheus metrics.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Whether webhook URLs may point at private addresses (`TROUPE_WEBHOOK_ALLOW_PRIVATE`).
    pub webhook_allow_private: bool,
    /// The Redis key prefix of cached model responses (distributed shape), emptied when a
    /// persona is erased.
    pub response_cache_prefix: String,
    /// `TROUPE_ACCURACY_CALIBRATION_MIN_OUTCOMES`.
    pub accuracy_calibration_min: u64,
    /// Fires when the server shuts down; open WebSockets close with 1001.
    pub shutdown: tokio_util::sync::CancellationToken,
}

#[derive(poem_openapi::Tags)]
enum ApiTags {
    /// Client personas.
    Personas,
    /// Listings.
    Properties,
    /// Focus groups and other simulations.
    Simulations,
    /// Populations the persona factory draws synthetic participants from.
    Segments,
    /// Property–client matching and feedback on its recommendations.
    Matching,
    /// The brokerage's own places, matched before the gazetteer's.
    Places,
    /// What really happened after a simulation, and how well simulations predicted it.
    Outcomes,
    /// Event subscriptions: Standard Webhooks deliveries and their log.
    Webhooks,
    /// Live updates over WebSocket.
    Live,
    /// The append-only, hash-chained audit log.
    Audit,
    /// Teams, users and API keys (brokerage admins).
    Admin,
}

/// Every operation of the API, listed once.
fn service() -> OpenApiService<impl poem_openapi::OpenApi + 'static, ()> {
    OpenApiService::new(
        (
            // Nested: a tuple holds at most 16.
            (personas::PersonasApi, deletion::DeletionApi),
            duplicates::DuplicatesApi,
            persona_import::PersonaImportApi,
            external_ids::ExternalIdsApi,
            enrichment::EnrichmentApi,
            properties::PropertiesApi,
            segments::SegmentsApi,
            simulations::SimulationsApi,
            schedules::SchedulesApi,
            matching::MatchingApi,
            places::PlacesApi,
            outcomes::OutcomesApi,
            webhooks::WebhooksApi,
            live::LiveApi,
            audit::AuditApi,
            directory::DirectoryApi,
        ),
        "Troupe",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Persona simulations for ultra-high-net-worth real estate.")
    .server("/api/v1")
}

/// The published contract, with the configured limits, for a process that checks stored requests
/// without serving them (the scheduler).
fn contract_for(config: &Config) -> std::sync::Arc<contract::Contract> {
    std::sync::Arc::new(contract::Contract::new(&service().spec(), &config.limits))
}

/// Every route of the service, with problem+json errors, the body-size limit and request logs.
pub fn app(state: ApiState, config: &Config) -> impl Endpoint + 'static {
    let api = service();
    let contract = std::sync::Arc::new(contract::Contract::new(&api.spec(), &config.limits));
    let published = contract.spec().clone();
    let patch_contract = contract.clone();
    let spec = get(poem::endpoint::make_sync(move |_| {
        poem::web::Json(published.clone()).into_response()
    }));
    let docs = api.swagger_ui();
    let max_body = config.max_body_bytes;
    web::mount(Route::new())
        .nest(
            "/api/v1",
            api.around(move |endpoint, req| contract::enforce(endpoint, req, contract.clone())),
        )
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz))
        .at("/metrics", get(health::metrics))
        .at("/ws/simulations/:id", get(live::simulation_socket))
        .at("/ws/personas/:id", get(live::persona_socket))
        .map_to_response()
        .around(web::pages_in_html)
        .around(move |endpoint, req| limit_body(endpoint, req, max_body))
        .catch_all_error(|err| async move { problem::render(err) })
        .data(state)
        .data(patch_contract)
        .data(web::WebSettings::new(config))
        // Served over HTTPS, browsers are told to keep to it.
        .with_if(
            config.tls.is_some(),
            poem::middleware::SetHeader::new().overriding(
                poem::http::header::STRICT_TRANSPORT_SECURITY,
                "max-age=31536000",
            ),
        )
        .around(telemetry::record)
        .with(Tracing)
        .into_endpoint()
}

/// Refuses bodies over `max` bytes with 413, whether or not they declare their length.
async fn limit_body<E: Endpoint>(
    endpoint: std::sync::Arc<E>,
    mut req: Request,
    max: usize,
) -> poem::Result<E::Output> {
    let too_large = || {
        poem::Error::from_string(
            format!("request bodies are limited to {max} bytes"),
            StatusCode::PAYLOAD_TOO_LARGE,
        )
    };
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(too_large());
    }
    let body = req
        .take_body()
        .into_bytes_limit(max)
        .await
        .map_err(|_| too_large())?;
    req.set_body(body);
    endpoint.call(req).await
}
