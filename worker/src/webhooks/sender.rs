//! One signed HTTP attempt at a webhook endpoint, following Standard Webhooks: `webhook-id`
//! (the delivery's id, the same on every attempt), `webhook-timestamp` and `webhook-signature`
//! (`v1,<base64 HMAC-SHA256>`, one per live secret). Redirects are not followed, and the
//! resolver refuses internal addresses, so a name re-pointed at one after the webhook was saved
//! is still refused.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use reqwest::{
    StatusCode,
    dns::{Addrs, Name, Resolve, Resolving},
    header::HeaderMap,
};
use troupe_shared::{
    config::WebhookConfig, domain::DeliveryAttempt, outbound, store::DeliveryTask,
};

/// How much of an endpoint's answer the delivery log keeps.
const RESPONSE_EXCERPT: usize = 1024;

#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

/// What an attempt came to: its log entry, and how long the endpoint asked us to wait.
pub struct Sent {
    pub attempt: DeliveryAttempt,
    pub delivered: bool,
    pub retry_after: Option<Duration>,
}

impl Sender {
    pub fn new(config: &WebhookConfig) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Troupe-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Sender {
            client: builder.build()?,
            allow_private: config.allow_private,
        })
    }

    /// Makes attempt number `number` of `task` with `body`.
    pub async fn send(&self, task: &DeliveryTask, body: Vec<u8>, number: i32) -> Sent {
        let attempted_at = Utc::now();
        let started = Instant::now();
        let result = self.post(task, body, attempted_at).await;
        let latency_ms = started.elapsed().as_millis() as i64;
        let mut attempt = DeliveryAttempt {
            attempt: number,
            attempted_at,
            status_code: None,
            latency_ms,
            response_body: None,
            error: None,
        };
        match result {
            Ok((status, headers, excerpt)) => {
                attempt.status_code = Some(i32::from(status.as_u16()));
                attempt.response_body = Some(excerpt);
                Sent {
                    attempt,
                    delivered: status.is_success(),
                    retry_after: retry_after(&headers, attempted_at),
                }
            }
            Err(error) => {
                attempt.error = Some(error);
                Sent {
                    attempt,
                    delivered: false,
                    retry_after: None,
                }
            }
        }
    }

    async fn post(
        &self,
        task: &DeliveryTask,
        body: Vec<u8>,
        at: DateTime<Utc>,
    ) -> Result<(StatusCode, HeaderMap, String), String> {
        // Literal addresses here; names in `PublicOnly`, so each attempt resolves once.
        outbound::check_url(&task.url, self.allow_private).map_err(|e| format!("refused: {e}"))?;
        let message_id = format!("msg_{}", task.id.simple());
        let timestamp = at.timestamp();
        let signatures = task
            .secrets
            .iter()
            .map(|secret| {
                standardwebhooks::Webhook::new(secret)
                    .and_then(|signer| signer.sign(&message_id, timestamp, &body))
                    .map_err(|e| format!("could not sign: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(" ");
        let mut response = self
            .client
            .post(&task.url)
            .header("content-type", "application/json")
            .header("webhook-id", &message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures)
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut excerpt = Vec::new();
        while excerpt.len() < RESPONSE_EXCERPT {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                _ => break,
            }
        }
        excerpt.truncate(RESPONSE_EXCERPT);
        Ok((
            status,
            headers,
            String::from_utf8_lossy(&excerpt).into_owned(),
        ))
    }
}

/// The error chain of a failed request, which names the refused address or the timeout.
fn describe(error: reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let raw = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(raw).ok()?.with_timezone(&Utc);
    (at - now).to_std().ok()
}

/// Resolves with the system resolver and refuses a name with any internal address.
struct PublicOnly;

#[derive(Debug, thiserror::Error)]
#[error("refused: {0}")]
struct Refused(outbound::DestinationError);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(internal) = addrs.iter().find(|addr| outbound::is_internal(addr.ip())) {
                return Err(Refused(outbound::DestinationError::ResolvesPrivate {
                    host,
                    ip: internal.ip(),
                })
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "120".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(120)));
        headers.insert(
            "retry-after",
            "Wed, 25 Nov 2026 12:01:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(60)));
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }
}
