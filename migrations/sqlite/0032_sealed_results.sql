-- SQLite twin of ../postgres/0032_sealed_results.sql.
ALTER TABLE simulations ADD COLUMN sealed_results BLOB;
ALTER TABLE events ADD COLUMN sealed_payload BLOB;

INSERT INTO plaintext_to_seal (pending) SELECT TRUE WHERE NOT EXISTS (SELECT 1 FROM plaintext_to_seal);
