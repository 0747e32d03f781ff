-- Schema version 3: nonces and per-minute counts move to the contract backends (LMDB or
-- Redis); apps get a contracted @handle limit; unique @handles queried per app and month.
DROP TABLE nonces;
DROP TABLE request_counts;
ALTER TABLE apps ADD COLUMN handle_limit INTEGER;
CREATE TABLE handle_usage (
    app_id   INTEGER NOT NULL REFERENCES apps (id),
    month    TEXT NOT NULL,
    user_id  INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, month, user_id)
) WITHOUT ROWID;
CREATE TABLE usage_months (
    app_id  INTEGER NOT NULL REFERENCES apps (id),
    month   TEXT NOT NULL,
    handles INTEGER NOT NULL,
    PRIMARY KEY (app_id, month)
) WITHOUT ROWID;
