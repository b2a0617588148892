-- The knowledge graph, kept from each persona's `knowledge_graph` on every write: edges from the
-- persona to other personas, named people, interests and past properties. Nodes are keys
-- (`persona:<id>`, `person:<name>`, `interest:<name>`, `property:<title>`), so two personas
-- sharing an advisor meet at one node.
CREATE TABLE graph_edges (
    brokerage_id      UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    persona_id        UUID NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    source_key        TEXT NOT NULL,
    target_key        TEXT NOT NULL,
    kind              TEXT NOT NULL,
    label             TEXT NOT NULL,
    -- Set when the target is another persona (whose visibility then applies too).
    target_persona_id UUID,
    detail            JSONB NOT NULL
);
CREATE INDEX graph_edges_persona ON graph_edges (persona_id);
CREATE INDEX graph_edges_source ON graph_edges (brokerage_id, source_key);
CREATE INDEX graph_edges_target ON graph_edges (brokerage_id, target_key);
