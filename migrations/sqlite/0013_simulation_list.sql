-- SQLite twin of ../postgres/0013_simulation_list.sql.
ALTER TABLE simulations ADD COLUMN property_id BLOB;
ALTER TABLE simulations ADD COLUMN summary TEXT;
ALTER TABLE simulations ADD COLUMN cancel_requested_at TEXT;

-- Ids are stored as 16-byte blobs; the plan holds them as text.
UPDATE simulations SET property_id = unhex(replace(json_extract(plan, '$.property_id'), '-', ''))
 WHERE length(json_extract(plan, '$.property_id')) = 36;
UPDATE simulations SET summary = json_extract(results, '$.summary') WHERE results IS NOT NULL;
CREATE INDEX simulations_brokerage_property ON simulations (brokerage_id, property_id, id);

CREATE TABLE simulation_personas (
    simulation_id BLOB NOT NULL REFERENCES simulations (id) ON DELETE CASCADE,
    persona_id    BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    brokerage_id  BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    PRIMARY KEY (simulation_id, persona_id)
);
CREATE INDEX simulation_personas_persona ON simulation_personas (brokerage_id, persona_id, simulation_id);

INSERT OR IGNORE INTO simulation_personas (simulation_id, persona_id, brokerage_id)
SELECT s.id, p.id, s.brokerage_id
  FROM simulations s, json_each(s.plan, '$.persona_ids') j
  JOIN personas p ON p.brokerage_id = s.brokerage_id AND p.id = unhex(replace(j.value, '-', ''))
 WHERE length(j.value) = 36;
INSERT OR IGNORE INTO simulation_personas (simulation_id, persona_id, brokerage_id)
SELECT s.id, p.id, s.brokerage_id
  FROM simulations s
  JOIN personas p ON p.brokerage_id = s.brokerage_id
   AND p.id = unhex(replace(json_extract(s.plan, '$.persona_id'), '-', ''))
 WHERE length(json_extract(s.plan, '$.persona_id')) = 36;
