-- SQLite twin of ../postgres/0004_matching.sql.
-- Listings become searchable: the fields list filters use, copied out of `details` on every write.
ALTER TABLE properties ADD COLUMN listing_id TEXT;
ALTER TABLE properties ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'under_contract', 'sold', 'withdrawn'));
ALTER TABLE properties ADD COLUMN price REAL NOT NULL DEFAULT 0;
ALTER TABLE properties ADD COLUMN property_type TEXT;
ALTER TABLE properties ADD COLUMN city TEXT;
ALTER TABLE properties ADD COLUMN region TEXT;
UPDATE properties SET price = json_extract(details, '$.price'),
    property_type = json_extract(details, '$.property_type'),
    city = json_extract(details, '$.location.city'),
    region = json_extract(details, '$.location.region');
CREATE UNIQUE INDEX properties_listing_id ON properties (brokerage_id, listing_id) WHERE listing_id IS NOT NULL;
CREATE INDEX properties_brokerage_price ON properties (brokerage_id, status, price);
-- The nightly run re-matches what changed since the last one.
CREATE INDEX properties_brokerage_updated ON properties (brokerage_id, updated_at);
CREATE INDEX personas_brokerage_updated ON personas (brokerage_id, updated_at);

-- A text embedding of a persona or a listing, recomputed only when its text (hash) changes.
CREATE TABLE embeddings (
    subject_id   BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    model        TEXT NOT NULL,
    text_hash    TEXT NOT NULL,
    vector       BLOB NOT NULL
);

CREATE TABLE match_runs (
    id           BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    created_by   BLOB REFERENCES users (id) ON DELETE SET NULL,
    direction    TEXT NOT NULL CHECK (direction IN ('property_to_clients', 'client_to_properties', 'nightly')),
    subject_id   BLOB,
    params       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    -- The nightly schedule slot this run is for: one run per brokerage and slot.
    slot         TEXT,
    pairs_scored BIGINT NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    completed_at TEXT
);
CREATE UNIQUE INDEX match_runs_slot ON match_runs (brokerage_id, slot) WHERE slot IS NOT NULL;
CREATE INDEX match_runs_brokerage ON match_runs (brokerage_id, direction, id);

CREATE TABLE match_recommendations (
    id           BLOB PRIMARY KEY,
    run_id       BLOB NOT NULL REFERENCES match_runs (id) ON DELETE CASCADE,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    persona_id   BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    property_id  BLOB NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    rank         INTEGER NOT NULL,
    score        REAL NOT NULL,
    detail       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX match_recommendations_run ON match_recommendations (run_id, rank);

CREATE TABLE match_feedback (
    id                BLOB PRIMARY KEY,
    recommendation_id BLOB NOT NULL REFERENCES match_recommendations (id) ON DELETE CASCADE,
    brokerage_id      BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    persona_id        BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    property_id       BLOB NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    created_by        BLOB NOT NULL REFERENCES users (id),
    outcome           TEXT NOT NULL CHECK (outcome IN ('sent', 'interested', 'not_interested', 'viewed', 'offer')),
    reason            TEXT,
    created_at        TEXT NOT NULL
);
CREATE INDEX match_feedback_persona ON match_feedback (persona_id);

-- The last score of every pair the nightly run found above its threshold, so the next run
-- reports only new or materially changed matches.
CREATE TABLE match_scores (
    persona_id   BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    property_id  BLOB NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    score        REAL NOT NULL,
    PRIMARY KEY (persona_id, property_id)
);
CREATE INDEX match_scores_property ON match_scores (property_id);
