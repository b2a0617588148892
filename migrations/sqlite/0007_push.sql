-- SQLite twin of ../postgres/0007_push.sql.
-- Push delivery: per-subject event sequences, webhook subscriptions with their deliveries and
-- attempts, and single-use WebSocket tickets.

ALTER TABLE events ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
UPDATE events SET sequence = numbered.n
FROM (SELECT id, row_number() OVER (PARTITION BY subject_id ORDER BY id) AS n FROM events) AS numbered
WHERE events.id = numbered.id;
CREATE UNIQUE INDEX events_subject_sequence ON events (subject_id, sequence);
ALTER TABLE events ADD COLUMN dispatched_at TEXT;
CREATE INDEX events_undispatched ON events (id) WHERE dispatched_at IS NULL;

CREATE TABLE webhooks (
    id                  BLOB PRIMARY KEY,
    brokerage_id        BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    url                 TEXT NOT NULL,
    description         TEXT NOT NULL,
    event_types         TEXT NOT NULL,
    secret              TEXT NOT NULL,
    previous_secret     TEXT,
    previous_expires_at TEXT,
    enabled             BOOLEAN NOT NULL,
    disabled_reason     TEXT,
    failing_since       TEXT,
    created_by          BLOB NOT NULL REFERENCES users (id),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX webhooks_brokerage ON webhooks (brokerage_id, id);

CREATE TABLE webhook_deliveries (
    id              BLOB PRIMARY KEY,
    webhook_id      BLOB NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    brokerage_id    BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    event_id        BLOB REFERENCES events (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'queued', 'sending', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    lease_until     TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
    delivery_id   BLOB NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt       INTEGER NOT NULL,
    attempted_at  TEXT NOT NULL,
    status_code   INTEGER,
    latency_ms    INTEGER NOT NULL,
    response_body TEXT,
    error         TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE ws_tickets (
    ticket_hash TEXT PRIMARY KEY,
    key_id      BLOB NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    expires_at  TEXT NOT NULL
);
