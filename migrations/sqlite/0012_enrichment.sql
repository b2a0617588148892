-- SQLite twin of ../postgres/0012_enrichment.sql.
CREATE TABLE enrichments (
    id           BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    persona_id   BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    requested_by BLOB NOT NULL,
    -- queued | running | completed | failed
    status       TEXT NOT NULL,
    extractor    TEXT,
    version      INTEGER,
    facts        TEXT,
    error        TEXT,
    created_at   TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX enrichments_persona ON enrichments (persona_id, id);

CREATE TABLE enrichment_sources (
    id            BLOB PRIMARY KEY,
    enrichment_id BLOB NOT NULL REFERENCES enrichments (id) ON DELETE CASCADE,
    persona_id    BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    brokerage_id  BLOB NOT NULL,
    kind          TEXT NOT NULL,
    occurred_on   TEXT NOT NULL,
    author        TEXT,
    title         TEXT,
    bytes         INTEGER NOT NULL,
    -- SHA-256 of kind and text: the same source submitted again is recognised, not relearned.
    content_hash  TEXT NOT NULL,
    content       BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (persona_id, content_hash)
);
CREATE INDEX enrichment_sources_run ON enrichment_sources (enrichment_id);

CREATE TABLE persona_facts (
    id            BLOB PRIMARY KEY,
    persona_id    BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    brokerage_id  BLOB NOT NULL,
    enrichment_id BLOB NOT NULL REFERENCES enrichments (id) ON DELETE CASCADE,
    source_id     BLOB NOT NULL REFERENCES enrichment_sources (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    slot          TEXT NOT NULL,
    value         TEXT NOT NULL,
    effect        TEXT NOT NULL,
    confidence    REAL NOT NULL,
    -- applied | superseded | outweighed | rejected
    status        TEXT NOT NULL,
    reason        TEXT,
    superseded_by BLOB,
    version       INTEGER,
    observed_on   TEXT NOT NULL,
    evidence      BLOB NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX persona_facts_persona ON persona_facts (persona_id, observed_on);
CREATE INDEX persona_facts_brokerage_slot ON persona_facts (brokerage_id, slot);
