-- Schema version 4: people who sign in (the 3-legged flow, the portal), apps they own,
-- callback URLs, access requests, request tokens and sessions.
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE apps ADD COLUMN owner_id BIGINT;
ALTER TABLE apps ADD COLUMN callback_urls TEXT NOT NULL DEFAULT '[]';
CREATE TABLE access_requests (
    app_id       BIGINT PRIMARY KEY REFERENCES apps (id),
    status       TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_at   BIGINT
);
CREATE TABLE request_tokens (
    token         TEXT PRIMARY KEY,
    secret        TEXT NOT NULL,
    app_id        BIGINT NOT NULL REFERENCES apps (id),
    callback      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    state         TEXT NOT NULL,
    user_id       BIGINT,
    verifier_hash TEXT
);
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
)
