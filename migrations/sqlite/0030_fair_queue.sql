-- Fair scheduling between brokerages on the shared simulation queue: beyond a few simulations
-- of one brokerage waiting in the queue, its further requests are held here, and each is
-- released (and pushed) as one of its waiting simulations starts. A brokerage submitting one
-- simulation is then behind a few of another's, not behind its whole backlog.
ALTER TABLE job_requests ADD COLUMN held BOOLEAN NOT NULL DEFAULT 0;
CREATE INDEX job_requests_held ON job_requests (brokerage_id, queue, created_at) WHERE held;
