-- SQLite twin of ../postgres/0021_places.sql.
CREATE TABLE places (
    id           BLOB PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    created_by   BLOB NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    aliases      TEXT NOT NULL,
    latitude     REAL NOT NULL,
    longitude    REAL NOT NULL,
    radius_km    REAL NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (brokerage_id, name_key)
);
