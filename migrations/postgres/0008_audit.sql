-- The audit log: who read, created, changed or deleted which persona, with which key, when.
-- Append-only (a trigger refuses changes) and hash-chained per brokerage: each entry's hash
-- covers its own fields and the previous entry's hash, so `troupe audit verify` finds the first
-- entry changed behind the trigger's back.
CREATE TABLE audit_log (
    brokerage_id UUID NOT NULL REFERENCES brokerages (id),
    seq          BIGINT NOT NULL,
    id           UUID NOT NULL UNIQUE,
    at           TIMESTAMPTZ NOT NULL,
    actor_id     UUID NOT NULL,
    key_id       UUID,
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   UUID NOT NULL,
    detail       JSONB NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (brokerage_id, seq)
);
CREATE INDEX audit_log_subject ON audit_log (brokerage_id, subject_id, seq);
CREATE INDEX audit_log_actor ON audit_log (brokerage_id, actor_id, seq);

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
