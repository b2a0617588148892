-- SQLite twin of ../postgres/0031_sealed_profiles.sql.
CREATE TABLE persona_terms (
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    persona_id   BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('word', 'city')),
    digest       BLOB NOT NULL,
    key_tag      TEXT NOT NULL,
    PRIMARY KEY (persona_id, kind, digest)
) WITHOUT ROWID;
CREATE INDEX persona_terms_digest ON persona_terms (brokerage_id, kind, digest);

INSERT INTO plaintext_to_seal (pending) SELECT TRUE WHERE NOT EXISTS (SELECT 1 FROM plaintext_to_seal);
