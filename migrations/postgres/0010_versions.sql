-- Every state a persona has been in, written in the transaction of the change: the evolution
-- timeline (`GET /personas/{id}/history`) diffs consecutive versions.
CREATE TABLE persona_versions (
    persona_id   UUID NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    version      BIGINT NOT NULL,
    profile      JSONB NOT NULL,
    visibility   TEXT NOT NULL,
    owner_id     UUID NOT NULL,
    changed_by   UUID NOT NULL,
    -- created | updated | reassigned | redacted
    change       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (persona_id, version)
);
-- Personas stored before this migration start their timeline at their current version.
INSERT INTO persona_versions (persona_id, brokerage_id, version, profile, visibility, owner_id, changed_by, change, created_at)
SELECT id, brokerage_id, version, profile, visibility, owner_user_id, owner_user_id, 'created', updated_at FROM personas;
