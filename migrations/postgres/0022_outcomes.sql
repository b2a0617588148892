-- What each completed simulation predicted, one row per thing an outcome can be held against:
-- a stored persona's intent for a listing (focus groups), a material × channel × segment's
-- rates (marketing), a sequence's and a persona's response (interventions), a client's
-- reaction to a scenario (individual). Written with the results, in their transaction.
CREATE TABLE predictions (
    id            UUID PRIMARY KEY,
    brokerage_id  UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    simulation_id UUID NOT NULL REFERENCES simulations (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    persona_id    UUID REFERENCES personas (id) ON DELETE CASCADE,
    property_id   UUID REFERENCES properties (id) ON DELETE SET NULL,
    segment       TEXT,
    material      TEXT,
    channel       TEXT,
    variant       TEXT,
    -- A 1–5 point (purchase intent, interest).
    score         DOUBLE PRECISION,
    -- A probability (of buying, of responding, of the scenario ending well).
    probability   DOUBLE PRECISION,
    open_rate     DOUBLE PRECISION,
    click_rate    DOUBLE PRECISION,
    reply_rate    DOUBLE PRECISION,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    predicted_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX predictions_brokerage ON predictions (brokerage_id, kind, predicted_at);

-- What really happened, recorded by agents, flows or imports. `kind` says which columns hold:
-- showing (property, persona, reaction, sealed comment), offer (property, persona?, amount),
-- sale (property, persona = buyer?, amount = price, days on market), campaign (simulation,
-- material, channel, segment?, counts), outreach (simulation, variant, persona, responded
-- touch), scenario (simulation, positive, interest?). `request_hash` lets a repeated external id
-- replay what it recorded, and refuse a different outcome.
CREATE TABLE outcomes (
    id              UUID PRIMARY KEY,
    brokerage_id    UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    created_by      UUID NOT NULL REFERENCES users (id),
    created_at      TIMESTAMPTZ NOT NULL,
    external_id     TEXT,
    request_hash    TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('showing', 'offer', 'sale', 'campaign', 'outreach', 'scenario')),
    occurred_on     DATE NOT NULL,
    property_id     UUID REFERENCES properties (id) ON DELETE CASCADE,
    persona_id      UUID REFERENCES personas (id) ON DELETE CASCADE,
    simulation_id   UUID REFERENCES simulations (id) ON DELETE CASCADE,
    reaction        INTEGER,
    sealed_comment  BYTEA,
    amount          DOUBLE PRECISION,
    days_on_market  INTEGER,
    material        TEXT,
    channel         TEXT,
    segment         TEXT,
    variant         TEXT,
    sent            BIGINT,
    opened          BIGINT,
    clicked         BIGINT,
    replied         BIGINT,
    responded_touch INTEGER,
    positive        BOOLEAN,
    interest        INTEGER,
    UNIQUE (brokerage_id, external_id)
);
CREATE INDEX outcomes_brokerage ON outcomes (brokerage_id, kind, id);
CREATE INDEX outcomes_property ON outcomes (property_id);
CREATE INDEX outcomes_persona ON outcomes (persona_id);
CREATE INDEX outcomes_simulation ON outcomes (simulation_id);
