-- What simulations found is sealed like the profiles they ran on: a run's results (its personas'
-- answers, quotes and names) and every outbox event's payload (a progress event carries answers)
-- move to sealed columns, bound to their row. A webhook delivery of an event no longer copies its
-- body: it is built from the event when sent (a test ping keeps its own, which names no client).
-- A match recommendation's explanation is sealed in place, as a JSON string.
ALTER TABLE simulations ADD COLUMN sealed_results BYTEA;
ALTER TABLE events ADD COLUMN sealed_payload BYTEA;

-- Rows stored before are sealed at the next start.
INSERT INTO plaintext_to_seal (pending) SELECT TRUE WHERE NOT EXISTS (SELECT 1 FROM plaintext_to_seal);
