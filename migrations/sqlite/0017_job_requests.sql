-- SQLite twin of ../postgres/0017_job_requests.sql.
CREATE TABLE job_requests (
    id           BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    queue        TEXT NOT NULL CHECK (queue IN ('simulations', 'enrichment', 'matching')),
    subject_id   BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    due_at       TEXT NOT NULL
);
CREATE INDEX job_requests_due ON job_requests (due_at);
CREATE INDEX job_requests_subject ON job_requests (subject_id);
