-- SQLite twin of ../postgres/0029_segment_labels.sql.
-- The simulation forms count the clients a caller may see under each segment label: this index
-- answers that without reading the profiles.
CREATE INDEX personas_segment_visibility
    ON personas (brokerage_id, segment, synthetic, visibility, owner_user_id, team_id);
