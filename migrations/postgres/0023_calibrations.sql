-- Recalibrations of predicted probabilities, one row per fit: per brokerage, kind, provider and
-- model, an isotonic map fitted on every trial its outcomes settle. Results use the latest fit of
-- their group when `applied` (it lowered the Brier score of held-out outcomes). `slot` is the
-- nightly slot (or the instant an admin asked) so that scheduler replicas fit a slot once.
CREATE TABLE calibrations (
    id                    UUID PRIMARY KEY,
    brokerage_id          UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    kind                  TEXT NOT NULL,
    provider              TEXT NOT NULL,
    model                 TEXT NOT NULL,
    of_what               TEXT NOT NULL,
    method                TEXT NOT NULL,
    slot                  TIMESTAMPTZ NOT NULL,
    fitted_at             TIMESTAMPTZ NOT NULL,
    trials                BIGINT NOT NULL,
    points                JSONB NOT NULL,
    held_out              JSONB,
    applied               BOOLEAN NOT NULL,
    not_applied_because   TEXT,
    UNIQUE (brokerage_id, kind, provider, model, slot)
);
CREATE INDEX calibrations_latest ON calibrations (brokerage_id, kind, provider, model, fitted_at DESC);
