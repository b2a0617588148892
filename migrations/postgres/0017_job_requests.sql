-- Jobs through the outbox: a request to run a simulation, enrichment or match run is written in
-- the transaction that creates (or retries) it, so a crash between that commit and the push to
-- the queue cannot strand it. The submitter pushes at once; the workers' job dispatcher pushes
-- whatever is due and, on a queue that can lose jobs (Redis without persistence), pushes again
-- while the run is unfinished. Each push names the request, so the queue keeps one copy.
CREATE TABLE job_requests (
    id           UUID PRIMARY KEY,
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    queue        TEXT NOT NULL CHECK (queue IN ('simulations', 'enrichment', 'matching')),
    subject_id   UUID NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    -- When the dispatcher next pushes it (the submitter's own push comes first).
    due_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX job_requests_due ON job_requests (due_at);
CREATE INDEX job_requests_subject ON job_requests (subject_id);
