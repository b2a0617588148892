-- SQLite twin of ../postgres/0006_match_versions.sql.
-- Every match run reads the version of each client it may match: this index answers that
-- without reading the profiles.
CREATE INDEX personas_match_versions
    ON personas (brokerage_id, id, version, updated_at, synthetic, visibility, owner_user_id, team_id);
