-- SQLite twin of ../postgres/0009_graph.sql.
CREATE TABLE graph_edges (
    brokerage_id      BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    persona_id        BLOB NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    source_key        TEXT NOT NULL,
    target_key        TEXT NOT NULL,
    kind              TEXT NOT NULL,
    label             TEXT NOT NULL,
    target_persona_id BLOB,
    detail            TEXT NOT NULL
);
CREATE INDEX graph_edges_persona ON graph_edges (persona_id);
CREATE INDEX graph_edges_source ON graph_edges (brokerage_id, source_key);
CREATE INDEX graph_edges_target ON graph_edges (brokerage_id, target_key);
