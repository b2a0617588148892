//! Webhook subscriptions and their deliveries, as the API shows them.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

// Dotted names, as the events are called everywhere else.
text_enum! {
    /// The events a webhook can subscribe to.
    pub enum EventType {
        /// A schedule submitted a simulation (then the usual events follow).
        #[serde(rename = "simulation.scheduled")]
        #[oai(rename = "simulation.scheduled")]
        SimulationScheduled => "simulation.scheduled",
        #[serde(rename = "simulation.started")]
        #[oai(rename = "simulation.started")]
        SimulationStarted => "simulation.started",
        #[serde(rename = "simulation.progress")]
        #[oai(rename = "simulation.progress")]
        SimulationProgress => "simulation.progress",
        #[serde(rename = "simulation.completed")]
        #[oai(rename = "simulation.completed")]
        SimulationCompleted => "simulation.completed",
        #[serde(rename = "simulation.failed")]
        #[oai(rename = "simulation.failed")]
        SimulationFailed => "simulation.failed",
        #[serde(rename = "simulation.cancelled")]
        #[oai(rename = "simulation.cancelled")]
        SimulationCancelled => "simulation.cancelled",
        #[serde(rename = "persona.enriched")]
        #[oai(rename = "persona.enriched")]
        PersonaEnriched => "persona.enriched",
        #[serde(rename = "matching.completed")]
        #[oai(rename = "matching.completed")]
        MatchingCompleted => "matching.completed",
        #[serde(rename = "persona.created")]
        #[oai(rename = "persona.created")]
        PersonaCreated => "persona.created",
        #[serde(rename = "persona.updated")]
        #[oai(rename = "persona.updated")]
        PersonaUpdated => "persona.updated",
        /// A client was erased (at an erasure request, or when a deletion's restore window
        /// closed): their id and external ids, so a CRM can follow.
        #[serde(rename = "persona.deleted")]
        #[oai(rename = "persona.deleted")]
        PersonaDeleted => "persona.deleted",
        #[serde(rename = "property.created")]
        #[oai(rename = "property.created")]
        PropertyCreated => "property.created",
        #[serde(rename = "property.updated")]
        #[oai(rename = "property.updated")]
        PropertyUpdated => "property.updated",
        #[serde(rename = "property.status_changed")]
        #[oai(rename = "property.status_changed")]
        PropertyStatusChanged => "property.status_changed",
    }
}

impl EventType {
    /// What a webhook created without a filter receives: every outcome, not the running chatter
    /// of starts and progress.
    pub const OUTCOMES: &[EventType] = &[
        EventType::SimulationCompleted,
        EventType::SimulationFailed,
        EventType::SimulationCancelled,
        EventType::PersonaEnriched,
        EventType::MatchingCompleted,
    ];
}

text_enum! {
    pub enum DeliveryStatus {
        /// Waiting for its (next) attempt.
        Pending => "pending",
        /// Handed to a worker.
        Queued => "queued",
        /// A worker is sending it now.
        Sending => "sending",
        Succeeded => "succeeded",
        /// Every attempt failed, or it could not be sent at all; redeliver to try again.
        Failed => "failed",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    /// Why the service disabled it, and how to turn it back on.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed (none since a success).
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when deliveries are also signed with the secret before the last rotation.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One event on its way to one endpoint. Its id is the `webhook-id` of every attempt.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The outbox event (none for a test ping).
    pub event_id: Option<Uuid>,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Each attempt, oldest first (on the single-delivery view).
    #[oai(skip_serializing_if_is_empty)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempt_log: Vec<DeliveryAttempt>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DeliveryAttempt {
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// The endpoint's HTTP status, when it answered.
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// The start of the endpoint's answer (at most 1 KiB).
    pub response_body: Option<String>,
    /// Why the attempt failed without an answer (refused address, timeout, connection error).
    pub error: Option<String>,
}
