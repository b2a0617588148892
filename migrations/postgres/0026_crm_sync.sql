-- Keeping the book in step with a CRM. A persona's or a listing's ids in other systems
-- (`{"hubspot": "51"}`) live in its JSON document, which is what readers and versions see; these
-- tables are their index: one record per id and source in a brokerage (the primary key), and one
-- id per source on a record. Rows go with their record.
CREATE TABLE persona_external_ids (
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    source       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    persona_id   UUID NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    PRIMARY KEY (brokerage_id, source, external_id),
    UNIQUE (persona_id, source)
);
CREATE TABLE property_external_ids (
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    source       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    property_id  UUID NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    PRIMARY KEY (brokerage_id, source, external_id),
    UNIQUE (property_id, source)
);
-- A client's email address and phone number are sealed with the rest of their private fields;
-- to find likely duplicates without reading them, each is kept here only as a keyed hash
-- (HMAC-SHA256 of the normalised value, keyed from the master key). `key_tag` names the key, so
-- the service re-hashes after the master key is rotated.
CREATE TABLE persona_contacts (
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    persona_id   UUID NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
    digest       BYTEA NOT NULL,
    key_tag      TEXT NOT NULL,
    PRIMARY KEY (persona_id, kind)
);
CREATE INDEX persona_contacts_digest ON persona_contacts (brokerage_id, kind, digest);
