-- SQLite twin of ../postgres/0010_versions.sql.
CREATE TABLE persona_versions (
    persona_id   BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    profile      TEXT NOT NULL,
    visibility   TEXT NOT NULL,
    owner_id     BLOB NOT NULL,
    changed_by   BLOB NOT NULL,
    change       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (persona_id, version)
);
INSERT INTO persona_versions (persona_id, brokerage_id, version, profile, visibility, owner_id, changed_by, change, created_at)
SELECT id, brokerage_id, version, profile, visibility, owner_user_id, owner_user_id, 'created', updated_at FROM personas;
