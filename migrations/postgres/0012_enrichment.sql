-- Enrichment: runs, the sources they learn from (text sealed), and the facts extracted, each with
-- its provenance (source and quoted span, sealed) and what became of it.
CREATE TABLE enrichments (
    id           UUID PRIMARY KEY,
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    persona_id   UUID NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    requested_by UUID NOT NULL,
    -- queued | running | completed | failed
    status       TEXT NOT NULL,
    extractor    TEXT,
    version      BIGINT,
    facts        JSONB,
    error        TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ
);
CREATE INDEX enrichments_persona ON enrichments (persona_id, id);

CREATE TABLE enrichment_sources (
    id            UUID PRIMARY KEY,
    enrichment_id UUID NOT NULL REFERENCES enrichments (id) ON DELETE CASCADE,
    persona_id    UUID NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    brokerage_id  UUID NOT NULL,
    kind          TEXT NOT NULL,
    occurred_on   DATE NOT NULL,
    author        TEXT,
    title         TEXT,
    bytes         BIGINT NOT NULL,
    -- SHA-256 of kind and text: the same source submitted again is recognised, not relearned.
    content_hash  TEXT NOT NULL,
    content       BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (persona_id, content_hash)
);
CREATE INDEX enrichment_sources_run ON enrichment_sources (enrichment_id);

CREATE TABLE persona_facts (
    id            UUID PRIMARY KEY,
    persona_id    UUID NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    brokerage_id  UUID NOT NULL,
    enrichment_id UUID NOT NULL REFERENCES enrichments (id) ON DELETE CASCADE,
    source_id     UUID NOT NULL REFERENCES enrichment_sources (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    slot          TEXT NOT NULL,
    value         JSONB NOT NULL,
    effect        TEXT NOT NULL,
    confidence    DOUBLE PRECISION NOT NULL,
    -- applied | superseded | outweighed | rejected
    status        TEXT NOT NULL,
    reason        TEXT,
    superseded_by UUID,
    version       BIGINT,
    observed_on   DATE NOT NULL,
    evidence      BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX persona_facts_persona ON persona_facts (persona_id, observed_on);
CREATE INDEX persona_facts_brokerage_slot ON persona_facts (brokerage_id, slot);
