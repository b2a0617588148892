-- Responses of the model, keyed by a hash of (model, messages, parameters, seed), so a repeated
-- simulation costs nothing. (The distributed shape keeps this cache in Redis; the table exists in
-- both databases so the schema is the same.)
CREATE TABLE llm_cache (
    key               TEXT PRIMARY KEY,
    content           TEXT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX llm_cache_expires_at ON llm_cache (expires_at);
