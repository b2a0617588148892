-- People sign in to the web workspace with an email and a password that a one-time invitation
-- let them set. Emails are stored lower-cased and are unique across brokerages, because sign-in
-- names no brokerage.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN password_hash TEXT;
CREATE UNIQUE INDEX users_email ON users (email);

-- Only a SHA-256 of the link's token is kept; inviting again replaces an unused invitation.
CREATE TABLE user_invitations (
    token_hash   TEXT PRIMARY KEY,
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ
);
CREATE INDEX user_invitations_user ON user_invitations (user_id);

-- Server-side sessions: the cookie holds a token whose hash is looked up here, so signing out
-- (or deactivating the user) ends a session at once.
CREATE TABLE web_sessions (
    id           UUID PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    brokerage_id UUID NOT NULL REFERENCES brokerages (id) ON DELETE CASCADE,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

-- Failed sign-ins, by `account:<email>` and `address:<ip>`, for throttling across API replicas.
CREATE TABLE sign_in_failures (
    subject TEXT NOT NULL,
    at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_failures_subject ON sign_in_failures (subject, at);
