-- SQLite twin of ../postgres/0018_audit_reads.sql.
CREATE TABLE audit_reads (
    id           BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id),
    at           TEXT NOT NULL,
    actor_id     BLOB NOT NULL,
    key_id       BLOB,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   BLOB NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX audit_reads_brokerage ON audit_reads (brokerage_id, id);
