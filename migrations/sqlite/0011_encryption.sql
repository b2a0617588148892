-- SQLite twin of ../postgres/0011_encryption.sql.
CREATE TABLE encryption_keys (
    id         BLOB PRIMARY KEY,
    wrapped    BLOB NOT NULL,
    active     BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    retired_at TEXT
);
CREATE UNIQUE INDEX encryption_keys_one_active ON encryption_keys (active) WHERE active;

ALTER TABLE personas ADD COLUMN sealed BLOB;
ALTER TABLE persona_versions ADD COLUMN sealed BLOB;

ALTER TABLE simulations ADD COLUMN sealed_enrichment BLOB;

-- One row while rows written before this migration may hold private fields in plaintext: the
-- service seals them at its next start, then deletes the row, so later starts skip the scan.
CREATE TABLE plaintext_to_seal (pending BOOLEAN NOT NULL);
INSERT INTO plaintext_to_seal (pending) VALUES (TRUE);
