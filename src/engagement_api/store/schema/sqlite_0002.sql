-- Schema version 2: tokens for the live ingest endpoint (POST /admin/ingest), stored hashed.
CREATE TABLE admin_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;
