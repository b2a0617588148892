-- Deleting a client is reversible for a while: a deleted client is hidden from every read
-- (`deleted_at` set) and erased for good once `erase_after` passes, unless an admin restores
-- them first. `deleted_by` and `deleted_via` (the key) say who asked, for the erasure's audit
-- entry. Who may delete team and brokerage clients is the brokerage's choice: their owner
-- (`owner`), or only a team lead of their team or an admin (`lead_or_admin`).
ALTER TABLE personas ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE personas ADD COLUMN erase_after TIMESTAMPTZ;
ALTER TABLE personas ADD COLUMN deleted_by UUID;
ALTER TABLE personas ADD COLUMN deleted_via UUID;
CREATE INDEX personas_erase_after ON personas (erase_after) WHERE erase_after IS NOT NULL;

ALTER TABLE brokerages ADD COLUMN deletion_policy TEXT NOT NULL DEFAULT 'lead_or_admin'
    CHECK (deletion_policy IN ('owner', 'lead_or_admin'));
