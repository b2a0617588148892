-- SQLite twin of ../postgres/0016_web_sign_in.sql.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN password_hash TEXT;
CREATE UNIQUE INDEX users_email ON users (email);

CREATE TABLE user_invitations (
    token_hash   TEXT PRIMARY KEY,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);
CREATE INDEX user_invitations_user ON user_invitations (user_id);

CREATE TABLE web_sessions (
    id           BLOB PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    brokerage_id BLOB NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

CREATE TABLE sign_in_failures (
    subject TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX sign_in_failures_subject ON sign_in_failures (subject, at);
