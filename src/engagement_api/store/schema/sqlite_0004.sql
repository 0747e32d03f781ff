-- Schema version 4: people who sign in (the 3-legged flow, the portal), apps they own,
-- callback URLs, access requests, request tokens and sessions.
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN owner_id INTEGER;
ALTER TABLE apps ADD COLUMN callback_urls TEXT NOT NULL DEFAULT '[]';
CREATE TABLE access_requests (
    app_id       INTEGER PRIMARY KEY REFERENCES apps (id),
    status       TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    decided_at   INTEGER
);
CREATE TABLE request_tokens (
    token         TEXT PRIMARY KEY,
    secret        TEXT NOT NULL,
    app_id        INTEGER NOT NULL REFERENCES apps (id),
    callback      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    state         TEXT NOT NULL,
    user_id       INTEGER,
    verifier_hash TEXT
) WITHOUT ROWID;
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID
