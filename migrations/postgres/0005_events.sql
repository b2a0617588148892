-- The transactional outbox: every event is written in the transaction of the change it reports,
-- so none is lost and none announces a change that rolled back. Delivery (webhooks, WebSockets)
-- reads from here.
CREATE TABLE events (
    id           UUID PRIMARY KEY,
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    subject_id   UUID NOT NULL,
    payload      JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_brokerage ON events (brokerage_id, id);
