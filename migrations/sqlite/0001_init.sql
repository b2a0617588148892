-- SQLite twin of ../postgres/0001_init.sql: UUIDs as 16-byte BLOBs, timestamps as RFC 3339 text, JSON as text.
-- Tenancy and access: brokerages own everything; users belong to a brokerage and maybe a team.
CREATE TABLE brokerages (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE teams (
    id           BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (brokerage_id, name)
);

CREATE TABLE users (
    id           BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    team_id      BLOB REFERENCES teams (id) ON DELETE SET NULL,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('agent', 'team_lead', 'brokerage_admin')),
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    UNIQUE (brokerage_id, name)
);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);

CREATE TABLE personas (
    id            BLOB PRIMARY KEY,
    brokerage_id  BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    owner_user_id BLOB NOT NULL REFERENCES users (id),
    team_id       BLOB REFERENCES teams (id) ON DELETE SET NULL,
    visibility    TEXT NOT NULL CHECK (visibility IN ('private', 'team', 'brokerage')),
    segment       TEXT,
    version       BIGINT NOT NULL,
    profile       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
-- Cursor pagination walks (brokerage_id, id); ids are BLOBv7, so id order is creation order.
CREATE INDEX personas_brokerage_id ON personas (brokerage_id, id);
CREATE INDEX personas_brokerage_segment ON personas (brokerage_id, segment, id);

CREATE TABLE properties (
    id           BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    created_by   BLOB NOT NULL REFERENCES users (id),
    details      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX properties_brokerage_id ON properties (brokerage_id, id);

CREATE TABLE simulations (
    id             BLOB PRIMARY KEY,
    brokerage_id   BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    created_by     BLOB NOT NULL REFERENCES users (id),
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    plan           TEXT NOT NULL,
    progress_done  BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT NOT NULL,
    results        TEXT,
    metadata       TEXT,
    error          TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    -- The run currently allowed to write: a recovered or duplicate run takes over by replacing it,
    -- and every write of a run is fenced on its own token.
    run_token      BLOB,
    claimed_by     TEXT,
    created_at     TEXT NOT NULL,
    started_at     TEXT,
    completed_at   TEXT
);
CREATE INDEX simulations_brokerage_id ON simulations (brokerage_id, id);

-- A repeated POST with the same Idempotency-Key returns what the first one created.
CREATE TABLE idempotency_keys (
    brokerage_id  BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    resource_id   BLOB NOT NULL,
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (brokerage_id, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
