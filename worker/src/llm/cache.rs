//! The response cache: keyed by a hash of everything that shapes a reply (model, messages,
//! parameters, seed, schema), so a repeated simulation with the same seed costs zero calls and
//! reads the same answers. Redis in the distributed shape, the SQLite file in the embedded one;
//! replies are kept sealed in both (a reply is a persona's answer in its own words).

use std::time::Duration;

use redis::{AsyncCommands, aio::ConnectionManager};
use serde_json::Value;
use sha2::{Digest, Sha256};
use troupe_shared::{Store, causes::Causes, store::CachedResponse};

pub enum ResponseCache {
    Off,
    Local {
        store: Store,
        ttl: Duration,
    },
    /// Redis, the replies sealed by `store`'s keys.
    Shared {
        conn: ConnectionManager,
        prefix: String,
        ttl: Duration,
        store: Store,
    },
}

/// The cache key of a request body (which carries the model, messages, parameters and seed).
pub fn cache_key(body: &Value) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

impl ResponseCache {
    /// A failing cache is a miss, never a failed call.
    pub async fn get(&self, key: &str) -> Option<CachedResponse> {
        let found = match self {
            ResponseCache::Off => return None,
            ResponseCache::Local { store, .. } => {
                store.cached_response(key).await.map_err(|e| e.to_string())
            }
            ResponseCache::Shared {
                conn,
                prefix,
                store,
                ..
            } => {
                let raw: Result<Option<String>, _> =
                    conn.clone().get(format!("{prefix}:{key}")).await;
                match raw.map(|raw| raw.and_then(|r| decode(&r))) {
                    Ok(Some(mut response)) => store
                        .open_reply(key, &response.content)
                        .await
                        .map(|content| {
                            response.content = content;
                            Some(response)
                        })
                        .map_err(|e| Causes(&e).to_string()),
                    Ok(None) => Ok(None),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        found.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "response cache unavailable");
            None
        })
    }

    pub async fn put(&self, key: &str, response: &CachedResponse) {
        let stored = match self {
            ResponseCache::Off => return,
            ResponseCache::Local { store, ttl } => store
                .cache_response(key, response, *ttl)
                .await
                .map_err(|e| e.to_string()),
            ResponseCache::Shared {
                conn,
                prefix,
                ttl,
                store,
            } => match store.seal_reply(key, &response.content).await {
                Ok(sealed) => {
                    let value = serde_json::json!([
                        sealed,
                        response.prompt_tokens,
                        response.completion_tokens
                    ]);
                    let result: Result<(), _> = conn
                        .clone()
                        .set_ex(
                            format!("{prefix}:{key}"),
                            value.to_string(),
                            ttl.as_secs().max(1),
                        )
                        .await;
                    result.map_err(|e| e.to_string())
                }
                Err(e) => Err(Causes(&e).to_string()),
            },
        };
        if let Err(e) = stored {
            tracing::warn!(error = %e, "could not cache a response");
        }
    }
}

fn decode(raw: &str) -> Option<CachedResponse> {
    let (content, prompt_tokens, completion_tokens): (String, i64, i64) =
        serde_json::from_str(raw).ok()?;
    Some(CachedResponse {
        content,
        prompt_tokens,
        completion_tokens,
    })
}
