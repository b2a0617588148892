-- SQLite twin of ../postgres/0020_near_misses.sql.
ALTER TABLE match_recommendations ADD COLUMN near_miss BOOLEAN NOT NULL DEFAULT FALSE;
DROP INDEX match_recommendations_run;
CREATE INDEX match_recommendations_run ON match_recommendations (run_id, near_miss, rank);
