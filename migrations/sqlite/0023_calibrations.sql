-- SQLite twin of ../postgres/0023_calibrations.sql.
CREATE TABLE calibrations (
    id                    BLOB PRIMARY KEY,
    brokerage_id          BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    kind                  TEXT NOT NULL,
    provider              TEXT NOT NULL,
    model                 TEXT NOT NULL,
    of_what               TEXT NOT NULL,
    method                TEXT NOT NULL,
    slot                  TEXT NOT NULL,
    fitted_at             TEXT NOT NULL,
    trials                INTEGER NOT NULL,
    points                TEXT NOT NULL,
    held_out              TEXT,
    applied               BOOLEAN NOT NULL,
    not_applied_because   TEXT,
    UNIQUE (brokerage_id, kind, provider, model, slot)
);
CREATE INDEX calibrations_latest ON calibrations (brokerage_id, kind, provider, model, fitted_at DESC);
