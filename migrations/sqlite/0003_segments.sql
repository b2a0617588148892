-- SQLite twin of ../postgres/0003_segments.sql.
CREATE TABLE segments (
    id           BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    created_by   BLOB NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    definition   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (brokerage_id, name)
);

ALTER TABLE personas ADD COLUMN synthetic BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE personas ADD COLUMN factory_key TEXT;
CREATE UNIQUE INDEX personas_factory_key ON personas (brokerage_id, factory_key) WHERE factory_key IS NOT NULL;
