-- Simulations run again on a schedule: a stored simulation request and a cron expression (UTC),
-- submitted at each slot as the person who made the schedule. `schedule_runs` keeps one row per
-- schedule and slot whichever scheduler replica fired it: the slot's history, and the guard
-- against firing it twice.
CREATE TABLE schedules (
    id           UUID PRIMARY KEY,
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    created_by   UUID NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('focus_group', 'marketing', 'intervention', 'individual')),
    request      JSONB NOT NULL,
    cron         TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX schedules_brokerage ON schedules (brokerage_id, id);
CREATE INDEX schedules_enabled ON schedules (enabled, id);

CREATE TABLE schedule_runs (
    schedule_id   UUID NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    brokerage_id  UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    slot          TIMESTAMPTZ NOT NULL,
    simulation_id UUID REFERENCES simulations (id) ON DELETE SET NULL,
    -- Why the slot could not be submitted (its owner left, a client it names is gone, …).
    error         TEXT,
    fired_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (schedule_id, slot)
);
