-- A brokerage's own places (a private enclave, a development, a stretch of coast), matched like
-- the gazetteer's: a centre and a reach. `name_key` is the name as matching reads it, unique in
-- the brokerage.
CREATE TABLE places (
    id           UUID PRIMARY KEY,
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    created_by   UUID NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    aliases      JSONB NOT NULL,
    latitude     DOUBLE PRECISION NOT NULL,
    longitude    DOUBLE PRECISION NOT NULL,
    radius_km    DOUBLE PRECISION NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (brokerage_id, name_key)
);
