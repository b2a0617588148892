-- A client's profile is sealed whole (names, net worth, biography, relationships and the rest):
-- the `profile` column keeps only the segment label and ids in other systems. To search the book
-- and match likely duplicates without reading them, a client's city and the words of its name and
-- biography are kept here only as keyed hashes (HMAC-SHA256, keyed from the master key, scoped
-- to the brokerage), as `persona_contacts` keeps email addresses and phone numbers. `key_tag`
-- names the key, so the service hashes again after the master key is re-wrapped.
CREATE TABLE persona_terms (
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    persona_id   UUID NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('word', 'city')),
    digest       BYTEA NOT NULL,
    key_tag      TEXT NOT NULL,
    PRIMARY KEY (persona_id, kind, digest)
);
CREATE INDEX persona_terms_digest ON persona_terms (brokerage_id, kind, digest);

-- Profiles stored before hold most fields in the clear: the service seals them, and writes the
-- terms of every client, at its next start.
INSERT INTO plaintext_to_seal (pending) SELECT TRUE WHERE NOT EXISTS (SELECT 1 FROM plaintext_to_seal);
