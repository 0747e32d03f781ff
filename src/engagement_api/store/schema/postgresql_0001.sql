-- Schema version 1 of the PostgreSQL store, laid out for Citus (docs/scaling.md):
-- every table that grows with posts or events is keyed by post id first, so it can be
-- distributed by post_id (posts by id) and colocated; no query joins across them.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id     BIGINT PRIMARY KEY,
    handle TEXT NOT NULL
);
CREATE INDEX users_handle ON users (lower(handle));

CREATE TABLE posts (
    id         BIGINT PRIMARY KEY,
    author_id  BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    protected  BOOLEAN NOT NULL DEFAULT FALSE,
    deleted    BOOLEAN NOT NULL DEFAULT FALSE,
    video_id   TEXT
);
CREATE INDEX posts_video ON posts (video_id) WHERE video_id IS NOT NULL;

CREATE TABLE post_hourly (
    post_id BIGINT NOT NULL,
    metric  SMALLINT NOT NULL,
    hour    INTEGER NOT NULL,
    count   BIGINT NOT NULL,
    PRIMARY KEY (post_id, metric, hour)
);

CREATE TABLE post_totals (
    post_id BIGINT NOT NULL,
    metric  SMALLINT NOT NULL,
    count   BIGINT NOT NULL,
    PRIMARY KEY (post_id, metric)
);

CREATE TABLE video_totals (
    video_id TEXT PRIMARY KEY,
    count    BIGINT NOT NULL
);

CREATE TABLE batches (
    key        TEXT PRIMARY KEY,
    applied_at BIGINT NOT NULL,
    records    BIGINT NOT NULL
);

CREATE TABLE apps (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL,
    consumer_key    TEXT NOT NULL UNIQUE,
    consumer_secret TEXT NOT NULL,
    approved        BOOLEAN NOT NULL,
    rate_limit      INTEGER NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE access_tokens (
    token      TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    app_id     BIGINT NOT NULL REFERENCES apps (id),
    user_id    BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE bearer_tokens (
    token_hash TEXT PRIMARY KEY,
    app_id     BIGINT NOT NULL REFERENCES apps (id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE nonces (
    consumer_key TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    seen_at      BIGINT NOT NULL,
    PRIMARY KEY (consumer_key, nonce)
);
CREATE INDEX nonces_seen_at ON nonces (seen_at);

CREATE TABLE request_counts (
    app_id BIGINT NOT NULL,
    minute BIGINT NOT NULL,
    count  BIGINT NOT NULL,
    PRIMARY KEY (app_id, minute)
);
