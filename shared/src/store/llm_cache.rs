//! The embedded shape's LLM response cache.

use std::time::Duration;

use chrono::Utc;

use super::{Store, StoreResult, with_pool};

/// A cached model response.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CachedResponse {
    pub content: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

impl Store {
    pub async fn cached_response(&self, key: &str) -> StoreResult<Option<CachedResponse>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT content, prompt_tokens, completion_tokens FROM llm_cache WHERE key = $1 AND expires_at > $2",
            )
            .bind(key)
            .bind(Utc::now())
            .fetch_optional(pool)
            .await
        })?)
    }

    pub async fn cache_response(
        &self,
        key: &str,
        response: &CachedResponse,
        ttl: Duration,
    ) -> StoreResult<()> {
        let expires_at =
            Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(7));
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO llm_cache (key, content, prompt_tokens, completion_tokens, expires_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (key) DO UPDATE SET content = $2, prompt_tokens = $3, completion_tokens = $4, expires_at = $5",
            )
            .bind(key)
            .bind(&response.content)
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
