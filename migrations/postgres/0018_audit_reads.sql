-- Reads are audited without serialising a brokerage: a read appends one row here (no lock), and
-- the chainer moves staged reads into the brokerage's hash chain in `audit_log` in batches, in
-- the order they were read, within a second or so; listing or verifying the log chains what is
-- staged first. Rows leave this table only by being chained.
CREATE TABLE audit_reads (
    id           UUID PRIMARY KEY,
    brokerage_id UUID NOT NULL REFERENCES brokerages (id),
    at           TIMESTAMPTZ NOT NULL,
    actor_id     UUID NOT NULL,
    key_id       UUID,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   UUID NOT NULL,
    detail       JSONB NOT NULL
);
CREATE INDEX audit_reads_brokerage ON audit_reads (brokerage_id, id);
