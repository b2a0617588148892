//! The transactional outbox. Events are written by the store inside the transaction of the change
//! they report ([`record_event!`]), so none is lost and none announces a change that rolled back;
//! after the commit the writer announces them on the [`EventBus`](crate::bus::EventBus). Webhook
//! fan-out reads them back in creation order, WebSockets by subject and sequence.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreResult, with_pool};
use crate::bus::Committed;

/// Inserts an event of `$kind` about `$subject` into the outbox, on the transaction `$tx`, with
/// the subject's next sequence number; yields the [`Committed`] notice to announce after commit.
/// Callers hold the subject's row lock (they have just updated it), so two transactions never
/// take the same number.
macro_rules! record_event {
    ($tx:expr, $brokerage:expr, $kind:literal, $subject:expr, $payload:expr) => {{
        let (brokerage_id, subject_id): (uuid::Uuid, uuid::Uuid) = ($brokerage, $subject);
        sqlx::query_scalar::<_, i64>(concat!(
            "INSERT INTO events (id, brokerage_id, type, subject_id, payload, created_at, sequence)
             VALUES ($1, $2, '",
            $kind,
            "', $3, $4, $5, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM events WHERE subject_id = $3))
             RETURNING sequence"
        ))
        .bind(uuid::Uuid::now_v7())
        .bind(brokerage_id)
        .bind(subject_id)
        .bind(sqlx::types::Json($payload))
        .bind(chrono::Utc::now())
        .fetch_one(&mut *$tx)
        .await
        .map(|sequence| $crate::bus::Committed {
            brokerage_id,
            subject_id,
            sequence,
        })
    }};
}
pub(crate) use record_event;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    pub id: Uuid,
    pub brokerage_id: Uuid,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub subject_id: Uuid,
    pub sequence: i64,
    pub payload: Json<Value>,
    pub created_at: DateTime<Utc>,
}

impl Event {
    /// The JSON every receiver gets: webhooks as the body, WebSockets as a message.
    pub fn envelope(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "type": self.kind,
            "timestamp": self.created_at,
            "subject_id": self.subject_id,
            "sequence": self.sequence,
            "data": self.payload.0,
        })
    }
}

impl Store {
    /// Announces events whose transaction has committed.
    pub(crate) async fn announce(&self, notices: &[Committed]) {
        self.bus.publish(notices).await;
    }

    /// The brokerage's events after `after` (oldest first), at most `limit`.
    pub async fn events(
        &self,
        brokerage_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, brokerage_id, type, subject_id, sequence, payload, created_at FROM events
                 WHERE brokerage_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3")
                .bind(brokerage_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?)
    }

    /// One subject's events numbered after `after`, in order, at most `limit`.
    pub async fn subject_events(
        &self,
        brokerage_id: Uuid,
        subject_id: Uuid,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, brokerage_id, type, subject_id, sequence, payload, created_at FROM events
                 WHERE subject_id = $2 AND brokerage_id = $1 AND sequence > $3
                 ORDER BY sequence LIMIT $4")
                .bind(brokerage_id)
                .bind(subject_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?)
    }

    /// The subject's latest sequence number (0 before its first event).
    pub async fn latest_sequence(&self, subject_id: Uuid) -> StoreResult<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COALESCE(MAX(sequence), 0) FROM events WHERE subject_id = $1")
                .bind(subject_id)
                .fetch_one(pool)
                .await
        })?)
    }
}

impl Store {
    /// Deletes events (with their deliveries and attempts) committed before `before` once none
    /// of their deliveries is still on its way, and test pings as old; returns how many events.
    pub async fn purge_old_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        Ok(with_pool!(self, pool => {
            sqlx::query(
                "DELETE FROM webhook_deliveries WHERE event_id IS NULL AND created_at < $1
                   AND status IN ('succeeded', 'failed')",
            )
            .bind(before)
            .execute(pool)
            .await?;
            sqlx::query(
                "DELETE FROM events WHERE created_at < $1 AND dispatched_at IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                                   WHERE d.event_id = events.id AND d.status IN ('pending', 'queued', 'sending'))",
            )
            .bind(before)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?)
    }
}
