//! The transactional outbox. Events are written by the store inside the transaction of the change
//! they report ([`record_event!`]), so none is lost and none announces a change that rolled back;
//! delivery reads them back in id (creation) order.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreResult, with_pool};

/// Inserts an event of `$kind` about `$subject` into the outbox, on the transaction `$tx`.
macro_rules! record_event {
    ($tx:expr, $brokerage:expr, $kind:literal, $subject:expr, $payload:expr) => {
        sqlx::query(concat!(
            "INSERT INTO events (id, brokerage_id, type, subject_id, payload, created_at) VALUES ($1, $2, '",
            $kind,
            "', $3, $4, $5)"
        ))
        .bind(uuid::Uuid::now_v7())
        .bind($brokerage)
        .bind($subject)
        .bind(sqlx::types::Json($payload))
        .bind(chrono::Utc::now())
        .execute(&mut *$tx)
        .await
    };
}
pub(crate) use record_event;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    pub id: Uuid,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub subject_id: Uuid,
    pub payload: Json<Value>,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// The brokerage's events after `after` (oldest first), at most `limit`.
    pub async fn events(
        &self,
        brokerage_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, type, subject_id, payload, created_at FROM events
                 WHERE brokerage_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3")
                .bind(brokerage_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?)
    }
}
