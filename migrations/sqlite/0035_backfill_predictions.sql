-- SQLite twin of ../postgres/0035_backfill_predictions.sql.
CREATE TABLE predictions_to_backfill (pending BOOLEAN NOT NULL);
INSERT INTO predictions_to_backfill (pending) VALUES (TRUE);
