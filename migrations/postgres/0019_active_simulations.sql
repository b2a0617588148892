-- Admission counts a brokerage's simulations that are waiting or running at every submit; this
-- keeps that count to the few active rows, however many finished ones the brokerage has.
CREATE INDEX simulations_active ON simulations (brokerage_id) WHERE status IN ('pending', 'running');
