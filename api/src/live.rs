//! Live updates over WebSocket: `/ws/simulations/{id}` and `/ws/personas/{id}`. A client gets
//! the subject's current state, then each event from the outbox in sequence order (`?after=N`
//! resumes after event N with nothing skipped), and a ping every heartbeat. Sockets read the
//! outbox table; the event bus only wakes them, so a worker in another process (publishing
//! through Redis) reaches every API replica, and a slow socket never holds up a worker: one that
//! cannot take a message within the send timeout is closed with 1008.
//!
//! Browsers cannot set an `Authorization` header on a WebSocket, so besides the bearer key a
//! connection may present `?ticket=` from `POST /api/v1/ws-tickets` (single use, short-lived), or
//! from the workspace's own pages the session cookie (same origin only).

use std::time::Duration;
use troupe_shared::causes::Causes;

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{
        Data, Path, Query,
        websocket::{CloseCode, Message, WebSocket, WebSocketStream},
    },
};
use poem_openapi::{Object, OpenApi, payload::Json};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use troupe_shared::{
    auth::{Principal, hash_secret, new_ws_ticket},
    store::AuditRecord,
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags,
    auth::{ApiKey, authenticate},
    problem::ApiError,
};

const TICKET_TTL: Duration = Duration::from_secs(60);
const HEARTBEAT: Duration = Duration::from_secs(15);
/// A message the client has not taken in this long marks it too slow to keep.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Re-read the outbox this often even without a notice (one lost on the way, say).
const SAFETY_POLL: Duration = Duration::from_secs(2);
const PAGE: u32 = 200;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Ticket {
    /// Pass as `?ticket=` when opening a WebSocket; valid once, for 60 seconds.
    ticket: String,
    expires_at: chrono::DateTime<Utc>,
}

pub struct LiveApi;

#[OpenApi(tag = "ApiTags::Live")]
impl LiveApi {
    /// A single-use ticket for opening a WebSocket from a browser (which cannot send the key).
    #[oai(path = "/ws-tickets", method = "post")]
    async fn ticket(&self, state: Data<&ApiState>, auth: ApiKey) -> Result<Json<Ticket>, ApiError> {
        let ticket = new_ws_ticket();
        let expires_at = Utc::now() + chrono::Duration::from_std(TICKET_TTL).expect("small");
        state
            .store
            .create_ws_ticket(auth.0.key_id, &hash_secret(&ticket), expires_at)
            .await?;
        Ok(Json(Ticket { ticket, expires_at }))
    }
}

#[derive(Deserialize)]
pub struct Connect {
    ticket: Option<String>,
    /// Resume after this sequence number.
    after: Option<i64>,
}

#[derive(Clone, Copy)]
enum Subject {
    Simulation(Uuid),
    Persona(Uuid),
}

impl Subject {
    fn id(self) -> Uuid {
        match self {
            Subject::Simulation(id) | Subject::Persona(id) => id,
        }
    }
}

#[handler]
pub async fn simulation_socket(
    req: &Request,
    Path(id): Path<Uuid>,
    Query(connect): Query<Connect>,
    ws: WebSocket,
    state: Data<&ApiState>,
) -> poem::Result<Response> {
    open(req, Subject::Simulation(id), connect, ws, &state).await
}

#[handler]
pub async fn persona_socket(
    req: &Request,
    Path(id): Path<Uuid>,
    Query(connect): Query<Connect>,
    ws: WebSocket,
    state: Data<&ApiState>,
) -> poem::Result<Response> {
    open(req, Subject::Persona(id), connect, ws, &state).await
}

/// Authenticates, checks the subject is the caller's to see (404 otherwise, before upgrading),
/// and hands the socket to [`stream`].
async fn open(
    req: &Request,
    subject: Subject,
    connect: Connect,
    ws: WebSocket,
    state: &ApiState,
) -> poem::Result<Response> {
    let caller = caller(req, connect.ticket.as_deref(), state).await?;
    let snapshot = snapshot(state, &caller, subject).await?.ok_or_else(|| {
        let what = match subject {
            Subject::Simulation(id) => format!("simulation {id}"),
            Subject::Persona(id) => format!("persona {id}"),
        };
        poem::Error::from(ApiError::NotFound(what))
    })?;
    if connect.after.is_some_and(|after| after < 0) {
        return Err(ApiError::Validation("after must be 0 or more".into()).into());
    }
    // A socket streams the subject's answers and changes: opening one is a read, audited as one.
    let (subject_type, action) = match subject {
        Subject::Simulation(_) => ("simulation", "simulation.watched"),
        Subject::Persona(_) => ("persona", "persona.watched"),
    };
    let record = AuditRecord {
        action,
        subject_type,
        subject_id: subject.id(),
        detail: json!({ "after": connect.after }),
    };
    state
        .store
        .audit(&caller, record)
        .await
        .map_err(ApiError::from)?;
    let state = state.clone();
    Ok(ws
        .on_upgrade(move |socket| async move {
            metrics::gauge!("troupe_websockets_open").increment(1.0);
            let reason = stream(socket, &state, caller, subject, snapshot, connect.after).await;
            metrics::gauge!("troupe_websockets_open").decrement(1.0);
            tracing::debug!(subject = %subject.id(), reason, "websocket closed");
        })
        .into_response())
}

async fn caller(req: &Request, ticket: Option<&str>, state: &ApiState) -> poem::Result<Principal> {
    let unauthorized = || poem::Error::from_status(StatusCode::UNAUTHORIZED);
    if let Some(token) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return authenticate(state, token.trim()).await;
    }
    // The workspace's own pages connect with the signed-in person's session cookie.
    if ticket.is_none()
        && let Some(principal) = crate::web::principal_from_cookie(req, state).await?
    {
        return Ok(principal);
    }
    let ticket = ticket.ok_or_else(unauthorized)?;
    let key_id = state
        .store
        .redeem_ws_ticket(&hash_secret(ticket))
        .await
        .map_err(ApiError::from)?
        .ok_or_else(unauthorized)?;
    let (principal, _) = state
        .store
        .principal_for_key(key_id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(unauthorized)?;
    Ok(principal)
}

/// The subject as the caller may see it now, with the sequence number it is current to; `None`
/// when it does not exist for them.
async fn snapshot(
    state: &ApiState,
    caller: &Principal,
    subject: Subject,
) -> Result<Option<Value>, ApiError> {
    let store = &state.store;
    // The sequence is read first: an event committed in between is sent again, never missed.
    let sequence = store.latest_sequence(subject.id()).await?;
    let state = match subject {
        Subject::Simulation(id) => store
            .simulation_for(caller, id)
            .await?
            .map(|s| json!({ "type": "state", "sequence": sequence, "simulation": s })),
        Subject::Persona(id) => store
            .get_persona(caller, id)
            .await?
            .map(|p| json!({ "type": "state", "sequence": sequence, "persona": p })),
    };
    Ok(state)
}

/// Whether `snapshot` shows a subject that will have no more events.
fn finished(snapshot: &Value) -> bool {
    matches!(
        snapshot["simulation"]["status"].as_str(),
        Some("completed" | "failed" | "cancelled")
    )
}

/// Sends the snapshot and then the subject's events until the simulation finishes, the client
/// leaves or is too slow, or the server shuts down; returns why it ended.
async fn stream(
    socket: WebSocketStream,
    state: &ApiState,
    caller: Principal,
    subject: Subject,
    snapshot: Value,
    after: Option<i64>,
) -> &'static str {
    let (mut sink, mut incoming) = socket.split();
    let mut committed = state.store.bus().subscribe();
    let mut cursor = after.unwrap_or_else(|| snapshot["sequence"].as_i64().unwrap_or(0));
    let done_at_start = finished(&snapshot);
    if send(&mut sink, &snapshot).await.is_err() {
        return "too slow";
    }
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    loop {
        let events = match state
            .store
            .subject_events(caller.brokerage_id, subject.id(), cursor, PAGE)
            .await
        {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %Causes(&e), "websocket could not read events");
                close(&mut sink, CloseCode::Error, "could not read events").await;
                return "store error";
            }
        };
        let mut last = false;
        for event in &events {
            if send(&mut sink, &event.envelope()).await.is_err() {
                close(
                    &mut sink,
                    CloseCode::Policy,
                    "too slow: messages were not read",
                )
                .await;
                return "too slow";
            }
            cursor = event.sequence;
            last |= matches!(
                event.kind.as_str(),
                "simulation.completed" | "simulation.failed" | "simulation.cancelled"
            );
        }
        if last || (done_at_start && events.is_empty()) {
            close(&mut sink, CloseCode::Normal, "simulation finished").await;
            return "finished";
        }
        if events.len() == PAGE as usize {
            continue;
        }
        // Wait for a notice about this subject, the client, a heartbeat or shutdown.
        let poll = tokio::time::sleep(SAFETY_POLL);
        tokio::pin!(poll);
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => {
                    close(&mut sink, CloseCode::Away, "server shutting down").await;
                    return "shutdown";
                }
                notice = committed.recv() => match notice {
                    Ok(notice) if notice.subject_id != subject.id() || notice.sequence <= cursor => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return "bus closed",
                },
                message = incoming.next() => match message {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return "client left",
                    Some(Ok(_)) => continue,
                },
                _ = heartbeat.tick() => {
                    if tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::ping(Vec::new()))).await.map_or(true, |r| r.is_err()) {
                        return "too slow";
                    }
                }
                _ = &mut poll => break,
            }
        }
    }
}

async fn send<S>(sink: &mut S, value: &Value) -> Result<(), ()>
where
    S: futures::Sink<Message> + Unpin,
{
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::text(value.to_string()))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

async fn close<S>(sink: &mut S, code: CloseCode, reason: &str)
where
    S: futures::Sink<Message> + Unpin,
{
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        sink.send(Message::Close(Some((code, reason.to_owned())))),
    )
    .await;
}
