-- SQLite twin of ../postgres/0015_simulation_warnings.sql.
ALTER TABLE simulations ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';
