-- Segments (attribute distributions) and the synthetic personas the factory draws from them.
CREATE TABLE segments (
    id           UUID PRIMARY KEY,
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    created_by   UUID NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    definition   JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (brokerage_id, name)
);

ALTER TABLE personas ADD COLUMN synthetic BOOLEAN NOT NULL DEFAULT FALSE;
-- "<segment id>:<seed>:<index>": the factory's cache key, so a seed draws the same personas once.
ALTER TABLE personas ADD COLUMN factory_key TEXT;
CREATE UNIQUE INDEX personas_factory_key ON personas (brokerage_id, factory_key) WHERE factory_key IS NOT NULL;
