-- A listing's or a client's page shows the latest match run about it.
CREATE INDEX match_runs_subject ON match_runs (brokerage_id, subject_id, id) WHERE subject_id IS NOT NULL;
