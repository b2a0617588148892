-- What enrichment learned is the client's own words ("interests:sailing", "relationships:odile
-- marsh"), so a fact's slot and value are sealed together in `sealed_fact`, bound to the fact.
-- `slot` keeps only its topic (`interests`), and `slot_digest` a keyed hash of the whole slot
-- (per brokerage, `key_tag` naming the key) so clients who hold the same interest are still
-- found without reading it. Facts stored before are sealed at the next start.
ALTER TABLE persona_facts ADD COLUMN sealed_fact BYTEA;
ALTER TABLE persona_facts ADD COLUMN slot_digest BYTEA;
ALTER TABLE persona_facts ADD COLUMN key_tag TEXT;
CREATE INDEX persona_facts_slot_digest ON persona_facts (brokerage_id, slot_digest);

INSERT INTO plaintext_to_seal (pending) SELECT TRUE WHERE NOT EXISTS (SELECT 1 FROM plaintext_to_seal);
