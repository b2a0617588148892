-- SQLite twin of ../postgres/0008_audit.sql.
CREATE TABLE audit_log (
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id),
    seq          INTEGER NOT NULL,
    id           BLOB NOT NULL UNIQUE,
    at           TEXT NOT NULL,
    actor_id     BLOB NOT NULL,
    key_id       BLOB,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   BLOB NOT NULL,
    detail       TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (brokerage_id, seq)
);
CREATE INDEX audit_log_subject ON audit_log (brokerage_id, subject_id, seq);
CREATE INDEX audit_log_actor ON audit_log (brokerage_id, actor_id, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
