-- Simulations completed before predictions were recorded (migration 0022) have none, so the
-- accuracy report cannot hold them against what happened. The next start computes them from the
-- stored plans and results, once, while this table holds its row.
CREATE TABLE predictions_to_backfill (pending BOOLEAN NOT NULL);
INSERT INTO predictions_to_backfill (pending) VALUES (TRUE);
