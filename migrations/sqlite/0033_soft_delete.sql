-- SQLite twin of ../postgres/0033_soft_delete.sql.
ALTER TABLE personas ADD COLUMN deleted_at TEXT;
ALTER TABLE personas ADD COLUMN erase_after TEXT;
ALTER TABLE personas ADD COLUMN deleted_by BLOB;
ALTER TABLE personas ADD COLUMN deleted_via BLOB;
CREATE INDEX personas_erase_after ON personas (erase_after) WHERE erase_after IS NOT NULL;

ALTER TABLE brokerages ADD COLUMN deletion_policy TEXT NOT NULL DEFAULT 'lead_or_admin'
    CHECK (deletion_policy IN ('owner', 'lead_or_admin'));
