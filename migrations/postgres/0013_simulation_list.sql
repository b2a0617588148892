-- Finding and stopping simulations: what each was about (the listing, the stored personas taking
-- part), a one-line summary for lists, and a cancellation request a running worker sees.
ALTER TABLE simulations ADD COLUMN property_id UUID;
ALTER TABLE simulations ADD COLUMN summary TEXT;
ALTER TABLE simulations ADD COLUMN cancel_requested_at TIMESTAMPTZ;

UPDATE simulations SET property_id = CAST(plan->>'property_id' AS UUID)
 WHERE plan->>'property_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
UPDATE simulations SET summary = results->>'summary' WHERE results IS NOT NULL;
CREATE INDEX simulations_brokerage_property ON simulations (brokerage_id, property_id, id);

-- The stored personas a simulation names; rows go with the persona (erasure) or the simulation.
CREATE TABLE simulation_personas (
    simulation_id UUID NOT NULL REFERENCES simulations (id) ON DELETE CASCADE,
    persona_id    UUID NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    brokerage_id  UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    PRIMARY KEY (simulation_id, persona_id)
);
CREATE INDEX simulation_personas_persona ON simulation_personas (brokerage_id, persona_id, simulation_id);

INSERT INTO simulation_personas (simulation_id, persona_id, brokerage_id)
SELECT DISTINCT s.id, p.id, s.brokerage_id
  FROM simulations s
  JOIN personas p ON p.brokerage_id = s.brokerage_id
   AND (s.plan->'persona_ids' ? CAST(p.id AS TEXT) OR s.plan->>'persona_id' = CAST(p.id AS TEXT));
