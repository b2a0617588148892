-- SQLite twin of ../postgres/0027_schedules.sql.
CREATE TABLE schedules (
    id           BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    created_by   BLOB NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('focus_group', 'marketing', 'intervention', 'individual')),
    request      TEXT NOT NULL,
    cron         TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX schedules_brokerage ON schedules (brokerage_id, id);
CREATE INDEX schedules_enabled ON schedules (enabled, id);

CREATE TABLE schedule_runs (
    schedule_id   BLOB NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    brokerage_id  BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    slot          TEXT NOT NULL,
    simulation_id BLOB REFERENCES simulations (id) ON DELETE SET NULL,
    error         TEXT,
    fired_at      TEXT NOT NULL,
    PRIMARY KEY (schedule_id, slot)
);
