-- SQLite twin of ../postgres/0026_crm_sync.sql.
CREATE TABLE persona_external_ids (
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    source       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    persona_id   BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    PRIMARY KEY (brokerage_id, source, external_id),
    UNIQUE (persona_id, source)
);
CREATE TABLE property_external_ids (
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    source       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    property_id  BLOB NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    PRIMARY KEY (brokerage_id, source, external_id),
    UNIQUE (property_id, source)
);
CREATE TABLE persona_contacts (
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    persona_id   BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
    digest       BLOB NOT NULL,
    key_tag      TEXT NOT NULL,
    PRIMARY KEY (persona_id, kind)
);
CREATE INDEX persona_contacts_digest ON persona_contacts (brokerage_id, kind, digest);
