-- Encryption at rest (see shared/src/crypto.rs). Data keys are stored wrapped by the master key
-- (TROUPE_ENCRYPTION_KEY); exactly one is active, the one new values are sealed with. Retired
-- keys stay so that values sealed under them still open until a rotation has re-sealed them.
CREATE TABLE encryption_keys (
    id         UUID PRIMARY KEY,
    wrapped    BYTEA NOT NULL,
    active     BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX encryption_keys_one_active ON encryption_keys (active) WHERE active;

-- A persona's interaction history and enrichment sources, sealed (the profile column keeps them
-- empty). Rows written before this migration are sealed when the service next starts.
ALTER TABLE personas ADD COLUMN sealed BYTEA;
ALTER TABLE persona_versions ADD COLUMN sealed BYTEA;

-- An individual simulation's `enrichment_data` (notes for that run only), sealed; the stored
-- plan holds none.
ALTER TABLE simulations ADD COLUMN sealed_enrichment BYTEA;

-- One row while rows written before this migration may hold private fields in plaintext: the
-- service seals them at its next start, then deletes the row, so later starts skip the scan.
CREATE TABLE plaintext_to_seal (pending BOOLEAN NOT NULL);
INSERT INTO plaintext_to_seal (pending) VALUES (TRUE);
