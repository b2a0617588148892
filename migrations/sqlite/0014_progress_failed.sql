-- SQLite twin of ../postgres/0014_progress_failed.sql.
ALTER TABLE simulations ADD COLUMN progress_failed INTEGER NOT NULL DEFAULT 0;
