-- SQLite twin of ../postgres/0005_events.sql.
-- The transactional outbox: every event is written in the transaction of the change it reports,
-- so none is lost and none announces a change that rolled back. Delivery (webhooks, WebSockets)
-- reads from here.
CREATE TABLE events (
    id           BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    subject_id   BLOB NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX events_brokerage ON events (brokerage_id, id);
