-- A match run also keeps its near misses: the best pairs that break exactly one hard constraint
-- (the constraint and how far off it was are in `detail.missed`). They are ranked apart from
-- the recommendations, and read apart.
ALTER TABLE match_recommendations ADD COLUMN near_miss BOOLEAN NOT NULL DEFAULT FALSE;
DROP INDEX match_recommendations_run;
CREATE INDEX match_recommendations_run ON match_recommendations (run_id, near_miss, rank);
