-- Schema version 2: tokens for the live ingest endpoint (POST /admin/ingest), stored hashed.
CREATE TABLE admin_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
