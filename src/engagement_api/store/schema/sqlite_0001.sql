-- Schema version 1 of the SQLite store.
-- Counts are kept twice: per (post, metric, hour) for the time-series endpoints and as
-- all-time totals so /totals never scans history. Metric codes are spec.Metric.code.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id     INTEGER PRIMARY KEY,
    handle TEXT NOT NULL
);
CREATE INDEX users_handle ON users (lower(handle));

CREATE TABLE posts (
    id         INTEGER PRIMARY KEY,
    author_id  INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    protected  INTEGER NOT NULL DEFAULT 0,
    deleted    INTEGER NOT NULL DEFAULT 0,
    video_id   TEXT
);
CREATE INDEX posts_video ON posts (video_id) WHERE video_id IS NOT NULL;

CREATE TABLE post_hourly (
    post_id INTEGER NOT NULL,
    metric  INTEGER NOT NULL,
    hour    INTEGER NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (post_id, metric, hour)
) WITHOUT ROWID;

CREATE TABLE post_totals (
    post_id INTEGER NOT NULL,
    metric  INTEGER NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (post_id, metric)
) WITHOUT ROWID;

CREATE TABLE video_totals (
    video_id TEXT PRIMARY KEY,
    count    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE batches (
    key        TEXT PRIMARY KEY,
    applied_at INTEGER NOT NULL,
    records    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE apps (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    consumer_key    TEXT NOT NULL UNIQUE,
    consumer_secret TEXT NOT NULL,
    approved        INTEGER NOT NULL,
    rate_limit      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE access_tokens (
    token      TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    app_id     INTEGER NOT NULL REFERENCES apps (id),
    user_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE bearer_tokens (
    token_hash TEXT PRIMARY KEY,
    app_id     INTEGER NOT NULL REFERENCES apps (id),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;

CREATE TABLE nonces (
    consumer_key TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    seen_at      INTEGER NOT NULL,
    PRIMARY KEY (consumer_key, nonce)
) WITHOUT ROWID;
CREATE INDEX nonces_seen_at ON nonces (seen_at);

CREATE TABLE request_counts (
    app_id INTEGER NOT NULL,
    minute INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (app_id, minute)
) WITHOUT ROWID;
