-- Push delivery: per-subject event sequences, webhook subscriptions with their deliveries and
-- attempts, and single-use WebSocket tickets.

-- Receivers order one subject's (a simulation's) events by `sequence`; WebSocket clients resume
-- after one. Numbers are taken in the transaction that records the event, under the lock of the
-- subject's own row, so they have no gaps.
ALTER TABLE events ADD COLUMN sequence BIGINT NOT NULL DEFAULT 0;
UPDATE events SET sequence = numbered.n
FROM (SELECT id, row_number() OVER (PARTITION BY subject_id ORDER BY id) AS n FROM events) AS numbered
WHERE events.id = numbered.id;
CREATE UNIQUE INDEX events_subject_sequence ON events (subject_id, sequence);
-- Set once the event has been fanned out to the webhooks subscribed to it.
ALTER TABLE events ADD COLUMN dispatched_at TIMESTAMPTZ;
CREATE INDEX events_undispatched ON events (id) WHERE dispatched_at IS NULL;

CREATE TABLE webhooks (
    id                  UUID PRIMARY KEY,
    brokerage_id        UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    url                 TEXT NOT NULL,
    description         TEXT NOT NULL,
    event_types         JSONB NOT NULL,
    -- `whsec_…`: kept as written because signing needs it.
    secret              TEXT NOT NULL,
    -- After a rotation, deliveries are signed with both secrets until this one expires.
    previous_secret     TEXT,
    previous_expires_at TIMESTAMPTZ,
    enabled             BOOLEAN NOT NULL,
    disabled_reason     TEXT,
    -- When the current run of failed attempts began; cleared by a success.
    failing_since       TIMESTAMPTZ,
    created_by          UUID NOT NULL REFERENCES users (id),
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhooks_brokerage ON webhooks (brokerage_id, id);

-- One message per event and endpoint; its id is the `webhook-id` of every attempt.
CREATE TABLE webhook_deliveries (
    id              UUID PRIMARY KEY,
    webhook_id      UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    brokerage_id    UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    -- NULL for a test ping.
    event_id        UUID REFERENCES events (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    body            JSONB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'queued', 'sending', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    -- A queued or sending delivery whose lease ran out is queued again (its job or worker died).
    lease_until     TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
    delivery_id   UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt       INTEGER NOT NULL,
    attempted_at  TIMESTAMPTZ NOT NULL,
    status_code   INTEGER,
    latency_ms    BIGINT NOT NULL,
    response_body TEXT,
    error         TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

-- Browsers cannot set headers on a WebSocket: they trade their key for a short-lived ticket.
CREATE TABLE ws_tickets (
    ticket_hash TEXT PRIMARY KEY,
    key_id      UUID NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    expires_at  TIMESTAMPTZ NOT NULL
);
