//! The transactional outbox. Events are written by the store inside the transaction of the change
//! they report ([`record_event!`]), so none is lost and none announces a change that rolled back;
//! after the commit the writer announces them on the [`EventBus`](crate::bus::EventBus). Webhook
//! fan-out reads them back in creation order, WebSockets by subject and sequence.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreResult, erasure, with_pool};
use crate::{bus::Committed, crypto::Purpose};

/// Inserts an event of `$kind` about `$subject` into the outbox, on the transaction `$tx`, with
/// the subject's next sequence number and its payload sealed under `$key` (a
/// [`Key`](crate::crypto::Key): a progress event carries clients' answers); yields the
/// [`Committed`] notice to announce after commit. Callers hold the subject's row lock (they have
/// just updated it), so two transactions never take the same number.
macro_rules! record_event {
    ($tx:expr, $key:expr, $brokerage:expr, $kind:literal, $subject:expr, $payload:expr) => {{
        let (brokerage_id, subject_id): (uuid::Uuid, uuid::Uuid) = ($brokerage, $subject);
        let key: &$crate::crypto::Key = $key;
        let id = uuid::Uuid::now_v7();
        let plain = serde_json::to_vec($payload).expect("event payloads serialize");
        sqlx::query_scalar::<_, i64>(concat!(
            "INSERT INTO events (id, brokerage_id, type, subject_id, payload, sealed_payload, created_at, sequence)
             VALUES ($1, $2, '",
            $kind,
            "', $3, '{}', $4, $5, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM events WHERE subject_id = $3))
             RETURNING sequence"
        ))
        .bind(id)
        .bind(brokerage_id)
        .bind(subject_id)
        .bind(key.seal($crate::crypto::Purpose::EventPayload, id, &plain))
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

/// An event as stored: its payload sealed (rows of earlier releases: in `payload`).
#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    id: Uuid,
    brokerage_id: Uuid,
    #[sqlx(rename = "type")]
    kind: String,
    subject_id: Uuid,
    sequence: i64,
    payload: Json<Value>,
    sealed_payload: Option<Vec<u8>>,
    created_at: DateTime<Utc>,
}

/// The columns of an [`EventRow`], for `SELECT`s on `events`.
macro_rules! event_columns {
    () => {
        "id, brokerage_id, type, subject_id, sequence, payload, sealed_payload, created_at"
    };
}
pub(super) use event_columns;

#[derive(Debug, Clone)]
pub struct Event {
    pub id: Uuid,
    pub brokerage_id: Uuid,
    pub kind: String,
    pub subject_id: Uuid,
    pub sequence: i64,
    pub payload: Value,
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
            "data": self.payload,
        })
    }
}

impl Store {
    /// Announces events whose transaction has committed.
    pub(crate) async fn announce(&self, notices: &[Committed]) {
        self.bus.publish(notices).await;
    }

    /// Events with their payloads opened.
    pub(super) async fn open_events(&self, rows: Vec<EventRow>) -> StoreResult<Vec<Event>> {
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let payload = match &row.sealed_payload {
                Some(sealed) => {
                    self.open_json(Purpose::EventPayload, row.id, sealed)
                        .await?
                }
                None => row.payload.0,
            };
            events.push(Event {
                id: row.id,
                brokerage_id: row.brokerage_id,
                kind: row.kind,
                subject_id: row.subject_id,
                sequence: row.sequence,
                payload,
                created_at: row.created_at,
            });
        }
        Ok(events)
    }

    /// The brokerage's events after `after` (oldest first), at most `limit`.
    pub async fn events(
        &self,
        brokerage_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let rows: Vec<EventRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", event_columns!(), " FROM events
                 WHERE brokerage_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"))
                .bind(brokerage_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?;
        self.open_events(rows).await
    }

    /// One subject's events numbered after `after`, in order, at most `limit`.
    pub async fn subject_events(
        &self,
        brokerage_id: Uuid,
        subject_id: Uuid,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let rows: Vec<EventRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", event_columns!(), " FROM events
                 WHERE subject_id = $2 AND brokerage_id = $1 AND sequence > $3
                 ORDER BY sequence LIMIT $4"))
                .bind(brokerage_id)
                .bind(subject_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?;
        let mut events = self.open_events(rows).await?;
        // A run's progress carries answers: a deleted participant's are left out, as their
        // erasure will.
        let deleted = self.deleted_participants(brokerage_id, subject_id).await?;
        for (persona, name) in &deleted {
            let persona = persona.to_string();
            for event in &mut events {
                erasure::redact(&mut event.payload, &persona, name);
            }
        }
        Ok(events)
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
