-- SQLite twin of ../postgres/0025_outcomes_in_order.sql.
CREATE INDEX outcomes_brokerage_newest ON outcomes (brokerage_id, id);
