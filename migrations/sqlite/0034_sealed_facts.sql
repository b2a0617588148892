-- SQLite twin of ../postgres/0034_sealed_facts.sql.
ALTER TABLE persona_facts ADD COLUMN sealed_fact BLOB;
ALTER TABLE persona_facts ADD COLUMN slot_digest BLOB;
ALTER TABLE persona_facts ADD COLUMN key_tag TEXT;
CREATE INDEX persona_facts_slot_digest ON persona_facts (brokerage_id, slot_digest);

INSERT INTO plaintext_to_seal (pending) SELECT TRUE WHERE NOT EXISTS (SELECT 1 FROM plaintext_to_seal);
