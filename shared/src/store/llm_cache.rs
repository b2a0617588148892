//! The embedded shape's LLM response cache, and the sealing of cached replies in both shapes: a
//! reply is a persona's answer in its own words, so it is stored (in this table, or in Redis)
//! only sealed, bound to its cache key.

use std::time::Duration;

use chrono::Utc;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Store, StoreResult, keys::seal_text, with_pool};
use crate::crypto::Purpose;

/// What a reply cached under `key` is bound to.
fn subject_of(key: &str) -> Uuid {
    let digest = Sha256::digest(key.as_bytes());
    Uuid::from_bytes(
        digest[..16]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes"),
    )
}

/// A cached model response.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CachedResponse {
    pub content: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

impl Store {
    /// A reply's text as stored under cache key `key`: sealed.
    pub async fn seal_reply(&self, key: &str, content: &str) -> StoreResult<String> {
        let sealing = self.sealing_key().await?;
        Ok(seal_text(
            &sealing,
            Purpose::CachedReply,
            subject_of(key),
            content,
        ))
    }

    /// The text of a reply stored under cache key `key` (one cached before sealing reads as is).
    pub async fn open_reply(&self, key: &str, stored: &str) -> StoreResult<String> {
        self.open_text(Purpose::CachedReply, subject_of(key), stored)
            .await
    }

    pub async fn cached_response(&self, key: &str) -> StoreResult<Option<CachedResponse>> {
        let found: Option<CachedResponse> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT content, prompt_tokens, completion_tokens FROM llm_cache WHERE key = $1 AND expires_at > $2",
            )
            .bind(key)
            .bind(Utc::now())
            .fetch_optional(pool)
            .await
        })?;
        match found {
            Some(mut response) => {
                response.content = self.open_reply(key, &response.content).await?;
                Ok(Some(response))
            }
            None => Ok(None),
        }
    }

    pub async fn cache_response(
        &self,
        key: &str,
        response: &CachedResponse,
        ttl: Duration,
    ) -> StoreResult<()> {
        let expires_at =
            Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(7));
        let content = self.seal_reply(key, &response.content).await?;
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO llm_cache (key, content, prompt_tokens, completion_tokens, expires_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (key) DO UPDATE SET content = $2, prompt_tokens = $3, completion_tokens = $4, expires_at = $5",
            )
            .bind(key)
            .bind(&content)
            .bind(response.prompt_tokens)
            .bind(response.completion_tokens)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(drop)
        })?;
        Ok(())
    }

    /// Drops expired responses; returns how many.
    pub async fn purge_expired_responses(&self) -> StoreResult<u64> {
        Ok(with_pool!(self, pool => {
            sqlx::query("DELETE FROM llm_cache WHERE expires_at <= $1")
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?)
    }
}
