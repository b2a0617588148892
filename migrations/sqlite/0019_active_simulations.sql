-- SQLite twin of ../postgres/0019_active_simulations.sql.
CREATE INDEX simulations_active ON simulations (brokerage_id) WHERE status IN ('pending', 'running');
