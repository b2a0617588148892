//! `/api/v1/webhooks`: brokerage admins subscribe endpoints to events, read each endpoint's
//! delivery log, redeliver, ping, and rotate signing secrets. Deliveries are made by workers.

use chrono::Utc;
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use troupe_shared::{
    auth::{Admin, Principal, new_webhook_secret},
    domain::{Delivery, DeliveryStatus, EventType, Webhook},
    outbound,
    store::{NewWebhook, WebhookPatch},
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags,
    auth::{ApiKey, require_admin},
    pagination,
    problem::ApiError,
};

/// The longest a rotated-out secret may keep signing.
const MAX_OVERLAP_HOURS: u32 = 7 * 24;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct WebhookRequest {
    /// Where deliveries are POSTed (http or https; private and internal addresses are refused).
    #[oai(validator(max_length = 2048))]
    url: String,
    /// Event types to receive; every outcome (`simulation.completed`, `simulation.failed`, `simulation.cancelled`,
    /// `persona.enriched`, `matching.completed`) when left out.
    #[oai(validator(max_items = 16))]
    event_types: Option<Vec<EventType>>,
    #[oai(default, validator(max_length = 500))]
    description: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct WebhookUpdate {
    #[oai(validator(max_length = 2048))]
    url: Option<String>,
    #[oai(validator(min_items = 1, max_items = 16))]
    event_types: Option<Vec<EventType>>,
    #[oai(validator(max_length = 500))]
    description: Option<String>,
    /// `true` re-enables an endpoint the service disabled after sustained failures.
    enabled: Option<bool>,
}

/// A webhook with its signing secret, shown only when created or rotated.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct WebhookWithSecret {
    #[oai(flatten)]
    webhook: Webhook,
    /// `whsec_…`: verify deliveries with it (Standard Webhooks); it is not shown again.
    secret: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RotateSecret {
    /// Hours the old secret keeps signing beside the new one (0 to 168), so receivers can
    /// switch without missing a delivery.
    #[oai(default = "default_overlap", validator(maximum(value = "168")))]
    overlap_hours: u32,
}

fn default_overlap() -> u32 {
    24
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct WebhookPage {
    items: Vec<Webhook>,
    next_cursor: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DeliveryPage {
    items: Vec<Delivery>,
    next_cursor: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DeliveryQueued {
    delivery_id: Uuid,
    delivery_url: String,
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Webhook(Json<WebhookWithSecret>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
enum Queued {
    /// The delivery is due now; its attempts show in the delivery log.
    #[oai(status = 202)]
    Delivery(Json<DeliveryQueued>),
}

#[derive(ApiResponse)]
enum Deleted {
    #[oai(status = 204)]
    Gone,
}

pub struct WebhooksApi;

#[OpenApi(prefix_path = "/webhooks", tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Subscribe an endpoint. Deliveries carry the Standard Webhooks headers, signed with the
    /// secret returned here (and only here).
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<WebhookRequest>,
    ) -> Result<Created, ApiError> {
        let body = body.0;
        let (webhook, secret) = subscribe(
            &state,
            admin(&auth.0)?,
            &body.url,
            body.event_types,
            body.description,
        )
        .await?;
        let location = format!("/api/v1/webhooks/{}", webhook.id);
        Ok(Created::Webhook(
            Json(WebhookWithSecret { webhook, secret }),
            location,
        ))
    }

    /// The brokerage's webhooks, oldest first.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> Result<Json<WebhookPage>, ApiError> {
        let admin = admin(&auth.0)?;
        let size = pagination::page_size(limit.0, 50);
        let mut items = state
            .store
            .list_webhooks(admin.brokerage_id, pagination::cursor(cursor.0)?, size)
            .await?;
        let next_cursor = pagination::next_cursor(&mut items, size, |w| w.id);
        Ok(Json(WebhookPage { items, next_cursor }))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<Webhook>, ApiError> {
        let admin = admin(&auth.0)?;
        found(
            state.store.get_webhook(admin.brokerage_id, id.0).await?,
            id.0,
        )
        .map(Json)
    }

    /// Change the URL, the events, the description, or re-enable a disabled endpoint.
    #[oai(path = "/:id", method = "patch")]
    async fn update(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        body: Json<WebhookUpdate>,
    ) -> Result<Json<Webhook>, ApiError> {
        let admin = admin(&auth.0)?;
        let body = body.0;
        let url = match body.url {
            Some(url) => Some(checked_url(&state, &url).await?),
            None => None,
        };
        let patch = WebhookPatch {
            url,
            description: body.description,
            event_types: body.event_types.map(|types| event_types(Some(types))),
            enabled: body.enabled,
        };
        found(state.store.update_webhook(admin, id.0, &patch).await?, id.0).map(Json)
    }

    /// Unsubscribe: the endpoint and its delivery log are deleted.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Deleted, ApiError> {
        let admin = admin(&auth.0)?;
        if !state.store.delete_webhook(admin, id.0).await? {
            return Err(not_found(id.0));
        }
        Ok(Deleted::Gone)
    }

    /// A new signing secret, shown once; the old one keeps signing beside it for the overlap.
    #[oai(path = "/:id/rotate-secret", method = "post")]
    async fn rotate_secret(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        body: Json<RotateSecret>,
    ) -> Result<Json<WebhookWithSecret>, ApiError> {
        let admin = admin(&auth.0)?;
        let overlap = body.0.overlap_hours.min(MAX_OVERLAP_HOURS);
        let secret = new_webhook_secret();
        let until = Utc::now() + chrono::Duration::hours(i64::from(overlap));
        let webhook = found(
            state
                .store
                .rotate_webhook_secret(admin, id.0, &secret, until)
                .await?,
            id.0,
        )?;
        Ok(Json(WebhookWithSecret { webhook, secret }))
    }

    /// Send a `webhook.ping` delivery now.
    #[oai(path = "/:id/ping", method = "post")]
    async fn ping(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Queued, ApiError> {
        let admin = admin(&auth.0)?;
        let delivery_id = state
            .store
            .create_ping(admin, id.0)
            .await?
            .ok_or_else(|| not_found(id.0))?;
        Ok(queued(id.0, delivery_id))
    }

    /// The endpoint's deliveries, newest first, optionally of one status.
    #[oai(path = "/:id/deliveries", method = "get")]
    async fn deliveries(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        status: Query<Option<DeliveryStatus>>,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> Result<Json<DeliveryPage>, ApiError> {
        let admin = admin(&auth.0)?;
        found(
            state.store.get_webhook(admin.brokerage_id, id.0).await?,
            id.0,
        )?;
        let size = pagination::page_size(limit.0, 50);
        let mut items = state
            .store
            .list_deliveries(
                admin.brokerage_id,
                id.0,
                pagination::cursor(cursor.0)?,
                status.0,
                size,
            )
            .await?;
        let next_cursor = pagination::next_cursor(&mut items, size, |d| d.id);
        Ok(Json(DeliveryPage { items, next_cursor }))
    }

    /// One delivery with every attempt: status, latency and the start of the endpoint's answer.
    #[oai(path = "/:id/deliveries/:delivery_id", method = "get")]
    async fn delivery(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        delivery_id: Path<Uuid>,
    ) -> Result<Json<Delivery>, ApiError> {
        let admin = admin(&auth.0)?;
        state
            .store
            .get_delivery(admin.brokerage_id, id.0, delivery_id.0)
            .await?
            .map(Json)
            .ok_or_else(|| ApiError::NotFound(format!("delivery {}", delivery_id.0)))
    }

    /// Send a delivery again, with the same `webhook-id` (receivers drop it if they have it).
    #[oai(path = "/:id/deliveries/:delivery_id/redeliver", method = "post")]
    async fn redeliver(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        delivery_id: Path<Uuid>,
    ) -> Result<Queued, ApiError> {
        let admin = admin(&auth.0)?;
        let delivery = state
            .store
            .get_delivery(admin.brokerage_id, id.0, delivery_id.0)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("delivery {}", delivery_id.0)))?;
        if !state.store.redeliver(admin, id.0, delivery.id).await? {
            return Err(ApiError::Conflict(format!(
                "delivery {} is being sent now",
                delivery.id
            )));
        }
        Ok(queued(id.0, delivery.id))
    }
}

/// Subscribes an endpoint (its address checked against internal destinations) to `types` (the
/// outcomes when none are named): the webhook, and its signing secret, shown this once.
pub(crate) async fn subscribe(
    state: &ApiState,
    admin: Admin<'_>,
    url: &str,
    types: Option<Vec<EventType>>,
    description: String,
) -> Result<(Webhook, String), ApiError> {
    let url = checked_url(state, url).await?;
    let secret = new_webhook_secret();
    let new = NewWebhook {
        url,
        description,
        event_types: event_types(types),
        secret: secret.clone(),
    };
    let webhook = state.store.create_webhook(admin, &new).await?;
    Ok((webhook, secret))
}

/// Webhooks are brokerage-wide, so only brokerage admins manage them.
fn admin(caller: &Principal) -> Result<Admin<'_>, ApiError> {
    require_admin(caller, "manage webhooks")
}

async fn checked_url(state: &ApiState, raw: &str) -> Result<String, ApiError> {
    outbound::check_destination(raw, state.webhook_allow_private)
        .await
        .map(String::from)
        .map_err(|e| ApiError::Validation(format!("url: {e}")))
}

fn event_types(requested: Option<Vec<EventType>>) -> Vec<EventType> {
    let mut types = requested.unwrap_or_else(|| EventType::OUTCOMES.to_vec());
    types.sort_by_key(|t| t.as_str());
    types.dedup();
    types
}

fn queued(webhook_id: Uuid, delivery_id: Uuid) -> Queued {
    Queued::Delivery(Json(DeliveryQueued {
        delivery_id,
        delivery_url: format!("/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}"),
    }))
}

fn found(webhook: Option<Webhook>, id: Uuid) -> Result<Webhook, ApiError> {
    webhook.ok_or_else(|| not_found(id))
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("webhook {id}"))
}
