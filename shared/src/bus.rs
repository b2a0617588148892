//! Tells every process at once that an event was committed: API replicas push it to their
//! WebSockets and workers fan it out to webhooks. A notice only wakes readers up; the outbox table
//! stays the record, so a notice lost on the way (Redis restarting, a lagging subscriber) delays an
//! event until the readers' next poll but never drops it.

use std::time::Duration;

use futures::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::queue::RedisServer;

/// Notices a subscriber may fall behind by before it is told it lagged (and re-reads the table).
const CAPACITY: usize = 4096;
const RESUBSCRIBE_PAUSE: Duration = Duration::from_secs(1);

/// An event of `subject_id` numbered `sequence` was committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    pub brokerage_id: Uuid,
    pub subject_id: Uuid,
    pub sequence: i64,
}

/// In process (embedded shape), or through a Redis channel every replica subscribes to.
#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Committed>,
    redis: Option<(ConnectionManager, String)>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("channel", &self.redis.as_ref().map(|(_, channel)| channel))
            .finish()
    }
}

impl EventBus {
    pub fn in_process() -> Self {
        EventBus {
            local: broadcast::channel(CAPACITY).0,
            redis: None,
        }
    }

    /// Publishes to, and relays from, `channel` on `server`.
    pub async fn redis(server: &RedisServer, channel: String) -> Result<Self, redis::RedisError> {
        let conn = server.connection().await?;
        let local = broadcast::channel(CAPACITY).0;
        let client = server.client()?;
        tokio::spawn(relay(client, channel.clone(), local.clone()));
        Ok(EventBus {
            local,
            redis: Some((conn, channel)),
        })
    }

    /// Announces committed events. Failing to announce is logged, never an error: the readers'
    /// poll finds the events anyway.
    pub async fn publish(&self, notices: &[Committed]) {
        for notice in notices {
            match &self.redis {
                None => {
                    let _ = self.local.send(*notice);
                }
                Some((conn, channel)) => {
                    let message = serde_json::to_string(notice).expect("a notice serializes");
                    let mut conn = conn.clone();
                    if let Err(e) = redis::cmd("PUBLISH")
                        .arg(channel)
                        .arg(message)
                        .query_async::<i64>(&mut conn)
                        .await
                    {
                        tracing::debug!(error = %e, "event notice not published; readers will poll");
                    }
                }
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.local.subscribe()
    }
}

/// Forwards the channel's notices to this process's subscribers, resubscribing after errors.
async fn relay(client: redis::Client, channel: String, local: broadcast::Sender<Committed>) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    let mut messages = pubsub.into_on_message();
                    while let Some(message) = messages.next().await {
                        let notice = message
                            .get_payload::<String>()
                            .ok()
                            .and_then(|raw| serde_json::from_str(&raw).ok());
                        if let Some(notice) = notice {
                            let _ = local.send(notice);
                        }
                    }
                    tracing::warn!(%channel, "event channel closed; resubscribing");
                }
                Err(e) => tracing::warn!(error = %e, "could not subscribe to the event channel"),
            },
            Err(e) => tracing::warn!(error = %e, "could not connect for the event channel"),
        }
        tokio::time::sleep(RESUBSCRIBE_PAUSE).await;
    }
}
