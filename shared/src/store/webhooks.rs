//! Webhook subscriptions, the fan-out of outbox events into deliveries, and the deliveries'
//! lifecycle: `pending` (due at `next_attempt_at`) → `queued` (a job is on the `webhooks` queue)
//! → `sending` → `succeeded`, back to `pending` for a retry, or `failed`. A queued or sending
//! delivery whose lease runs out (its job was lost, its worker killed) becomes due again, so no
//! event is lost; it keeps its id, so a receiver sees one `webhook-id` however often it is sent.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    AuditRecord, BeginWrite, INSERT_BATCH, Pool, Store, StoreError, StoreResult,
    audit::record_audit,
    events::{EventRow, event_columns},
    keys::seal_text,
    parse_column, with_pool,
};
use crate::{
    auth::Admin,
    crypto::Purpose,
    domain::{Delivery, DeliveryAttempt, DeliveryStatus, EventType, Webhook},
};

/// Events fanned out per transaction.
pub const FAN_OUT_BATCH: usize = 200;

pub struct NewWebhook {
    pub url: String,
    pub description: String,
    pub event_types: Vec<EventType>,
    pub secret: String,
}

#[derive(Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    pub enabled: Option<bool>,
}

/// What a worker needs to make one attempt.
pub struct DeliveryTask {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub url: String,
    /// The current secret, then the previous one while its overlap lasts.
    pub secrets: Vec<String>,
    pub body: Value,
    /// Attempts made before this one.
    pub attempts: i32,
    pub enabled: bool,
}

/// How an attempt ended, as the worker decided.
pub enum DeliveryOutcome {
    Delivered,
    RetryAt(DateTime<Utc>),
    GaveUp,
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: Uuid,
    url: String,
    description: String,
    event_types: Json<Vec<String>>,
    enabled: bool,
    disabled_reason: Option<String>,
    failing_since: Option<DateTime<Utc>>,
    previous_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;

    fn try_from(row: WebhookRow) -> StoreResult<Webhook> {
        let event_types = row
            .event_types
            .0
            .iter()
            .map(|t| parse_column(t, EventType::parse, "webhooks.event_types"))
            .collect::<StoreResult<_>>()?;
        let now = Utc::now();
        Ok(Webhook {
            id: row.id,
            url: row.url,
            description: row.description,
            event_types,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            failing_since: row.failing_since,
            previous_secret_expires_at: row.previous_expires_at.filter(|at| *at > now),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const WEBHOOK_COLUMNS: &str = "id, url, description, event_types, enabled, disabled_reason, failing_since, previous_expires_at, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: Uuid,
    webhook_id: Uuid,
    event_id: Option<Uuid>,
    event_type: String,
    status: String,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;

    fn try_from(row: DeliveryRow) -> StoreResult<Delivery> {
        Ok(Delivery {
            id: row.id,
            webhook_id: row.webhook_id,
            event_id: row.event_id,
            event_type: row.event_type,
            status: parse_column(
                &row.status,
                DeliveryStatus::parse,
                "webhook_deliveries.status",
            )?,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
            attempt_log: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    webhook_id: Uuid,
    /// A test ping's body; an event's delivery is built from the event.
    body: Json<Value>,
    event_id: Option<Uuid>,
    attempts: i32,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_expires_at: Option<DateTime<Utc>>,
    enabled: bool,
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, last_error, created_at, updated_at";

fn type_names(types: &[EventType]) -> Json<Vec<&'static str>> {
    Json(types.iter().map(|t| t.as_str()).collect())
}

impl Store {
    pub async fn create_webhook(&self, admin: Admin<'_>, new: &NewWebhook) -> StoreResult<Webhook> {
        let (brokerage_id, created_by) = (admin.brokerage_id, admin.user_id);
        let id = Uuid::now_v7();
        let now = Utc::now();
        let secret = seal_text(
            &self.sealing_key().await?,
            Purpose::WebhookSecret,
            id,
            &new.secret,
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO webhooks (id, brokerage_id, url, description, event_types, secret, enabled, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $8, $8)",
            )
            .bind(id).bind(brokerage_id).bind(&new.url).bind(&new.description)
            .bind(type_names(&new.event_types)).bind(secret).bind(created_by).bind(now)
            .execute(&mut *tx)
            .await?;
            let detail = serde_json::json!({ "url": new.url, "event_types": type_names(&new.event_types) });
            record_audit!(tx, &admin, AuditRecord::admin("webhook.created", "webhook", id, detail))?;
            tx.commit().await
        })?;
        self.get_webhook(brokerage_id, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a created webhook vanished".into()))
    }

    pub async fn get_webhook(&self, brokerage_id: Uuid, id: Uuid) -> StoreResult<Option<Webhook>> {
        let row: Option<WebhookRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE brokerage_id = $1 AND id = $2"
            )))
            .bind(brokerage_id).bind(id)
            .fetch_optional(pool)
            .await
        })?;
        row.map(Webhook::try_from).transpose()
    }

    /// The brokerage's webhooks after the cursor, oldest first; `limit + 1` rows tell whether a
    /// page follows.
    pub async fn list_webhooks(
        &self,
        brokerage_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Webhook>> {
        let rows: Vec<WebhookRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks
                 WHERE brokerage_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
            )))
            .bind(brokerage_id).bind(after).bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(Webhook::try_from).collect()
    }

    /// Applies the fields given; enabling clears the reason it was disabled and its failure run.
    pub async fn update_webhook(
        &self,
        admin: Admin<'_>,
        id: Uuid,
        patch: &WebhookPatch,
    ) -> StoreResult<Option<Webhook>> {
        let brokerage_id = admin.brokerage_id;
        let updated = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE webhooks SET
                    url = COALESCE($3, url),
                    description = COALESCE($4, description),
                    event_types = COALESCE($5, event_types),
                    enabled = COALESCE($6, enabled),
                    disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END,
                    failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END,
                    updated_at = $7
                 WHERE brokerage_id = $1 AND id = $2",
            )
            .bind(brokerage_id).bind(id).bind(&patch.url).bind(&patch.description)
            .bind(patch.event_types.as_deref().map(type_names)).bind(patch.enabled).bind(Utc::now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                // Which fields changed, and the switch; never the URL's secrets or the text.
                let detail = serde_json::json!({
                    "url": patch.url.is_some(), "description": patch.description.is_some(),
                    "event_types": patch.event_types.is_some(), "enabled": patch.enabled,
                });
                record_audit!(tx, &admin, AuditRecord::admin("webhook.updated", "webhook", id, detail))?;
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(updated)
        })?;
        if updated == 0 {
            return Ok(None);
        }
        self.get_webhook(brokerage_id, id).await
    }

    /// Deletes the webhook and its delivery log; `false` if there was none.
    pub async fn delete_webhook(&self, admin: Admin<'_>, id: Uuid) -> StoreResult<bool> {
        let deleted = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let deleted = sqlx::query("DELETE FROM webhooks WHERE brokerage_id = $1 AND id = $2")
                .bind(admin.brokerage_id).bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 1 {
                let record = AuditRecord::admin("webhook.deleted", "webhook", id, serde_json::json!({}));
                record_audit!(tx, &admin, record)?;
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(deleted)
        })?;
        Ok(deleted == 1)
    }

    /// Replaces the secret; the old one keeps signing (beside the new) until `overlap_until`.
    pub async fn rotate_webhook_secret(
        &self,
        admin: Admin<'_>,
        id: Uuid,
        secret: &str,
        overlap_until: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>> {
        let secret = seal_text(
            &self.sealing_key().await?,
            Purpose::WebhookSecret,
            id,
            secret,
        );
        let updated = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE webhooks SET previous_secret = secret, previous_expires_at = $4, secret = $3, updated_at = $5
                 WHERE brokerage_id = $1 AND id = $2",
            )
            .bind(admin.brokerage_id).bind(id).bind(&secret).bind(overlap_until).bind(Utc::now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                let detail = serde_json::json!({ "old_secret_until": overlap_until });
                record_audit!(tx, &admin, AuditRecord::admin("webhook.secret_rotated", "webhook", id, detail))?;
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(updated)
        })?;
        if updated == 0 {
            return Ok(None);
        }
        self.get_webhook(admin.brokerage_id, id).await
    }

    /// Turns events not yet dispatched into one delivery per subscribed, enabled webhook, and
    /// marks them dispatched, in one transaction, at most [`FAN_OUT_BATCH`] events at a time;
    /// returns how many events it took. Concurrent
    /// callers are harmless: a delivery is unique per (webhook, event).
    pub async fn fan_out_events(&self) -> StoreResult<usize> {
        let now = Utc::now();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Only what routes them: a delivery is built from its event when it is sent.
            let events: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
                "SELECT id, brokerage_id, type FROM events WHERE dispatched_at IS NULL ORDER BY id LIMIT $1",
            )
            .bind(FAN_OUT_BATCH as i64)
            .fetch_all(&mut *tx)
            .await?;
            if events.is_empty() {
                return Ok(0);
            }
            let mut brokerages: Vec<Uuid> = events.iter().map(|(_, brokerage, _)| *brokerage).collect();
            brokerages.sort();
            brokerages.dedup();
            let mut subscriptions: Vec<(Uuid, Uuid, Json<Vec<String>>)> = Vec::new();
            for brokerage_id in brokerages {
                let rows: Vec<(Uuid, Uuid, Json<Vec<String>>)> = sqlx::query_as(
                    "SELECT id, brokerage_id, event_types FROM webhooks WHERE brokerage_id = $1 AND enabled",
                )
                .bind(brokerage_id)
                .fetch_all(&mut *tx)
                .await?;
                subscriptions.extend(rows);
            }
            let deliveries: Vec<(Uuid, &(Uuid, Uuid, String))> = events
                .iter()
                .flat_map(|event| {
                    subscriptions
                        .iter()
                        .filter(move |(_, brokerage, types)| {
                            *brokerage == event.1 && types.0.contains(&event.2)
                        })
                        .map(move |(webhook_id, _, _)| (*webhook_id, event))
                })
                .collect();
            for chunk in deliveries.chunks(INSERT_BATCH) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO webhook_deliveries (id, webhook_id, brokerage_id, event_id, event_type, body, status, next_attempt_at, created_at, updated_at) ");
                insert.push_values(chunk, |mut row, (webhook_id, (event_id, brokerage_id, kind))| {
                    row.push_bind(Uuid::now_v7())
                        .push_bind(*webhook_id)
                        .push_bind(*brokerage_id)
                        .push_bind(*event_id)
                        .push_bind(kind)
                        .push_bind(Json(serde_json::json!({})))
                        .push_bind("pending")
                        .push_bind(now)
                        .push_bind(now)
                        .push_bind(now);
                });
                insert.push(" ON CONFLICT (webhook_id, event_id) DO NOTHING");
                insert.build().execute(&mut *tx).await?;
            }
            let mut mark = sqlx::QueryBuilder::new("UPDATE events SET dispatched_at = ");
            mark.push_bind(now).push(" WHERE id IN (");
            let mut list = mark.separated(", ");
            for (event_id, _, _) in &events {
                list.push_bind(*event_id);
            }
            mark.push(")");
            mark.build().execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(events.len())
        })
    }

    /// A test ping to the webhook, due at once; `None` if there is no such webhook.
    pub async fn create_ping(
        &self,
        admin: Admin<'_>,
        webhook_id: Uuid,
    ) -> StoreResult<Option<Uuid>> {
        let brokerage_id = admin.brokerage_id;
        let id = Uuid::now_v7();
        let now = Utc::now();
        let body = serde_json::json!({
            "id": id, "type": "webhook.ping", "timestamp": now,
            "data": { "webhook_id": webhook_id, "message": "Troupe is reaching this endpoint." },
        });
        let inserted = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, brokerage_id, event_id, event_type, body, status, next_attempt_at, created_at, updated_at)
                 SELECT $1, id, brokerage_id, NULL, 'webhook.ping', $3, 'pending', $4, $4, $4
                 FROM webhooks WHERE brokerage_id = $5 AND id = $2",
            )
            .bind(id).bind(webhook_id).bind(Json(body)).bind(now).bind(brokerage_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok((inserted == 1).then_some(id))
    }

    /// Hands out deliveries that are due (or whose lease ran out) for queueing, each leased
    /// until `lease_until`; returns their ids.
    pub async fn claim_due_deliveries(
        &self,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Uuid>> {
        let now = Utc::now();
        // The status test is repeated outside the sub-select so that PostgreSQL re-checks it on
        // a row another claimer changed meanwhile, and each delivery is handed out once. In
        // PostgreSQL the sub-select skips rows another dispatcher is claiming: without it, two
        // claimers lock overlapping rows in different orders and deadlock (one waits out the
        // detector's second, then the dispatcher pauses). SQLite has one writer at a time.
        macro_rules! claim_due {
            ($lock:literal) => {
                concat!(
                    "UPDATE webhook_deliveries SET status = 'queued', lease_until = $2, updated_at = $1
                     WHERE id IN (
                         SELECT id FROM webhook_deliveries
                         WHERE (status = 'pending' AND next_attempt_at <= $1)
                            OR (status IN ('queued', 'sending') AND lease_until < $1)
                         ORDER BY next_attempt_at LIMIT $3",
                    $lock,
                    ")
                       AND ((status = 'pending' AND next_attempt_at <= $1)
                            OR (status IN ('queued', 'sending') AND lease_until < $1))
                     RETURNING id"
                )
            };
        }
        let claimed = match &self.pool {
            Pool::Postgres(pool) => {
                sqlx::query_scalar(claim_due!(" FOR UPDATE SKIP LOCKED"))
                    .bind(now)
                    .bind(lease_until)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await
            }
            Pool::Sqlite(pool) => {
                sqlx::query_scalar(claim_due!(""))
                    .bind(now)
                    .bind(lease_until)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await
            }
        };
        Ok(claimed?)
    }

    /// Takes a queued delivery for sending (or one whose sender died); `None` when it is not
    /// this job's to send (already delivered, or another worker has it).
    pub async fn start_delivery(
        &self,
        id: Uuid,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<DeliveryTask>> {
        let now = Utc::now();
        let row: Option<TaskRow> = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let taken: Option<(Uuid,)> = sqlx::query_as(
                "UPDATE webhook_deliveries SET status = 'sending', lease_until = $2, updated_at = $3
                 WHERE id = $1 AND (status = 'queued' OR (status = 'sending' AND lease_until < $3))
                 RETURNING webhook_id",
            )
            .bind(id).bind(lease_until).bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let row = match taken {
                None => None,
                Some(_) => sqlx::query_as(
                    "SELECT d.webhook_id, d.body, d.event_id, d.attempts, w.url, w.secret, w.previous_secret, w.previous_expires_at, w.enabled
                     FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?,
            };
            tx.commit().await?;
            row
        });
        let Some(row) = row else {
            return Ok(None);
        };
        let webhook = row.webhook_id;
        let body = match row.event_id {
            Some(event_id) => {
                let event: Option<EventRow> = with_pool!(self, pool => {
                    sqlx::query_as(concat!("SELECT ", event_columns!(), " FROM events WHERE id = $1"))
                        .bind(event_id).fetch_optional(pool).await
                })?;
                let event = event.ok_or_else(|| {
                    StoreError::Corrupt(format!("delivery {id}: event {event_id} is gone"))
                })?;
                let mut opened = self.open_events(vec![event]).await?;
                opened.pop().expect("one event opened").envelope()
            }
            None => row.body.0,
        };
        let mut secrets = vec![
            self.open_text(Purpose::WebhookSecret, webhook, &row.secret)
                .await?,
        ];
        if let Some(previous) = row
            .previous_secret
            .filter(|_| row.previous_expires_at.is_some_and(|at| at > now))
        {
            secrets.push(
                self.open_text(Purpose::WebhookSecret, webhook, &previous)
                    .await?,
            );
        }
        Ok(Some(DeliveryTask {
            id,
            webhook_id: webhook,
            url: row.url,
            secrets,
            body,
            attempts: row.attempts,
            enabled: row.enabled,
        }))
    }

    /// Logs an attempt and moves the delivery on. A failure starts (or continues) the
    /// endpoint's failure run, and an endpoint failing since before `disable_before` is
    /// disabled with `disable_reason`; a success ends the run. Returns whether this attempt
    /// disabled the endpoint. A delivery whose webhook was deleted meanwhile records nothing.
    pub async fn finish_attempt(
        &self,
        task: &DeliveryTask,
        attempt: &DeliveryAttempt,
        outcome: &DeliveryOutcome,
        disable_before: DateTime<Utc>,
        disable_reason: &str,
    ) -> StoreResult<bool> {
        let now = Utc::now();
        let (status, next_attempt_at) = match outcome {
            DeliveryOutcome::Delivered => (DeliveryStatus::Succeeded, None),
            DeliveryOutcome::RetryAt(at) => (DeliveryStatus::Pending, Some(*at)),
            DeliveryOutcome::GaveUp => (DeliveryStatus::Failed, None),
        };
        let last_error = match outcome {
            DeliveryOutcome::Delivered => None,
            _ => Some(
                attempt
                    .error
                    .clone()
                    .or_else(|| {
                        attempt
                            .status_code
                            .map(|code| format!("the endpoint answered {code}"))
                    })
                    .unwrap_or_default(),
            ),
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let still_there = sqlx::query(
                "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, lease_until = NULL,
                        last_error = $5, updated_at = $6
                 WHERE id = $1",
            )
            .bind(task.id).bind(status.as_str()).bind(attempt.attempt).bind(next_attempt_at)
            .bind(&last_error).bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected() == 1;
            if !still_there {
                // The webhook was deleted while this attempt was on its way (its deliveries went
                // with it): there is nothing left to record it against.
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status_code, latency_ms, response_body, error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (delivery_id, attempt) DO NOTHING",
            )
            .bind(task.id).bind(attempt.attempt).bind(attempt.attempted_at).bind(attempt.status_code)
            .bind(attempt.latency_ms).bind(&attempt.response_body).bind(&attempt.error)
            .execute(&mut *tx)
            .await?;
            let disabled = if matches!(outcome, DeliveryOutcome::Delivered) {
                // Only when there is a failure run to end: every delivery to an endpoint would
                // otherwise queue on its row's lock.
                sqlx::query("UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL")
                    .bind(task.webhook_id)
                    .execute(&mut *tx)
                    .await?;
                false
            } else {
                sqlx::query("UPDATE webhooks SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL")
                    .bind(task.webhook_id).bind(attempt.attempted_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE webhooks SET enabled = FALSE, disabled_reason = $3, updated_at = $4
                     WHERE id = $1 AND enabled AND failing_since < $2",
                )
                .bind(task.webhook_id).bind(disable_before).bind(disable_reason).bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected() == 1
            };
            tx.commit().await?;
            Ok(disabled)
        })
    }

    /// Fails a delivery that cannot be sent at all (its endpoint is disabled or its body too
    /// large), without an attempt.
    pub async fn abandon_delivery(&self, id: Uuid, reason: &str) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE webhook_deliveries SET status = 'failed', lease_until = NULL, last_error = $2, updated_at = $3
                 WHERE id = $1",
            )
            .bind(id).bind(reason).bind(Utc::now())
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// The webhook's deliveries, newest first, after the cursor.
    pub async fn list_deliveries(
        &self,
        brokerage_id: Uuid,
        webhook_id: Uuid,
        before: Option<Uuid>,
        status: Option<DeliveryStatus>,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        let rows: Vec<DeliveryRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                 WHERE brokerage_id = $1 AND webhook_id = $2 AND ($3 IS NULL OR id < $3)
                   AND ($4 IS NULL OR status = $4)
                 ORDER BY id DESC LIMIT $5"
            )))
            .bind(brokerage_id).bind(webhook_id).bind(before)
            .bind(status.map(DeliveryStatus::as_str)).bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(Delivery::try_from).collect()
    }

    /// One delivery with its attempts.
    pub async fn get_delivery(
        &self,
        brokerage_id: Uuid,
        webhook_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<Delivery>> {
        let row: Option<DeliveryRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                 WHERE brokerage_id = $1 AND webhook_id = $2 AND id = $3"
            )))
            .bind(brokerage_id).bind(webhook_id).bind(id)
            .fetch_optional(pool)
            .await
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut delivery = Delivery::try_from(row)?;
        delivery.attempt_log = with_pool!(self, pool => {
            sqlx::query_as::<_, (i32, DateTime<Utc>, Option<i32>, i64, Option<String>, Option<String>)>(
                "SELECT attempt, attempted_at, status_code, latency_ms, response_body, error
                 FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt",
            )
            .bind(id)
            .fetch_all(pool)
            .await
        })?
        .into_iter()
        .map(|(attempt, attempted_at, status_code, latency_ms, response_body, error)| DeliveryAttempt {
            attempt,
            attempted_at,
            status_code,
            latency_ms,
            response_body,
            error,
        })
        .collect();
        Ok(Some(delivery))
    }

    /// Makes a delivery due again now, under the same id; `false` if there is none or it is
    /// on its way already.
    pub async fn redeliver(
        &self,
        admin: Admin<'_>,
        webhook_id: Uuid,
        id: Uuid,
    ) -> StoreResult<bool> {
        let brokerage_id = admin.brokerage_id;
        let now = Utc::now();
        let updated = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $4, lease_until = NULL, updated_at = $4
                 WHERE brokerage_id = $1 AND webhook_id = $2 AND id = $3 AND status IN ('succeeded', 'failed', 'pending')",
            )
            .bind(brokerage_id).bind(webhook_id).bind(id).bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(updated == 1)
    }
}
