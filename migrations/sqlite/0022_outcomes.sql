-- SQLite twin of ../postgres/0022_outcomes.sql.
CREATE TABLE predictions (
    id            BLOB PRIMARY KEY,
    brokerage_id  BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    simulation_id BLOB NOT NULL REFERENCES simulations (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    persona_id    BLOB REFERENCES personas (id) ON DELETE CASCADE,
    property_id   BLOB REFERENCES properties (id) ON DELETE SET NULL,
    segment       TEXT,
    material      TEXT,
    channel       TEXT,
    variant       TEXT,
    -- A 1–5 point (purchase intent, interest).
    score         REAL,
    -- A probability (of buying, of responding, of the scenario ending well).
    probability   REAL,
    open_rate     REAL,
    click_rate    REAL,
    reply_rate    REAL,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    predicted_at  TEXT NOT NULL
);
CREATE INDEX predictions_brokerage ON predictions (brokerage_id, kind, predicted_at);

CREATE TABLE outcomes (
    id              BLOB PRIMARY KEY,
    brokerage_id    BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    created_by      BLOB NOT NULL REFERENCES users (id),
    created_at      TEXT NOT NULL,
    external_id     TEXT,
    request_hash    TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('showing', 'offer', 'sale', 'campaign', 'outreach', 'scenario')),
    occurred_on     TEXT NOT NULL,
    property_id     BLOB REFERENCES properties (id) ON DELETE CASCADE,
    persona_id      BLOB REFERENCES personas (id) ON DELETE CASCADE,
    simulation_id   BLOB REFERENCES simulations (id) ON DELETE CASCADE,
    reaction        INTEGER,
    sealed_comment  BLOB,
    amount          REAL,
    days_on_market  INTEGER,
    material        TEXT,
    channel         TEXT,
    segment         TEXT,
    variant         TEXT,
    sent            INTEGER,
    opened          INTEGER,
    clicked         INTEGER,
    replied         INTEGER,
    responded_touch INTEGER,
    positive        BOOLEAN,
    interest        INTEGER,
    UNIQUE (brokerage_id, external_id)
);
CREATE INDEX outcomes_brokerage ON outcomes (brokerage_id, kind, id);
CREATE INDEX outcomes_property ON outcomes (property_id);
CREATE INDEX outcomes_persona ON outcomes (persona_id);
CREATE INDEX outcomes_simulation ON outcomes (simulation_id);
