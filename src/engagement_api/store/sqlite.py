"""The embedded SQLite engine: one file, zero set-up, WAL so readers never wait for ingest."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..spec import METRIC_BY_NAME
from .base import (
    MAX_COUNT,
    AccessToken,
    App,
    Batch,
    HourlyCounts,
    Post,
    SchemaError,
    Store,
    User,
    add_sql,
)
from .migrations import latest, migrations, too_new

VIDEO_VIEWS = METRIC_BY_NAME["video_views"].code
_CHUNK = 900  # ids per IN (...) list
_PRUNE_EVERY = 2048  # nonce / request-count writes between clean-ups


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _chunks(items: Sequence, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


class SQLiteStore(Store):
    def __init__(self, path: str | os.PathLike, url: str | None = None) -> None:
        self.path = Path(path)
        self.url = url or f"sqlite:///{self.path}"
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._lock = threading.RLock()  # one connection; the CLI and tests may share it
        self._writes = 0
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "cache_size=-65536",
            "temp_store=MEMORY",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._migrate()

    # -- schema ------------------------------------------------------------------------
    def schema_version(self) -> int:
        has_meta = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        if not has_meta:
            return 0
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                current = self.schema_version()
                if current > latest("sqlite"):
                    raise SchemaError(too_new(self.url, current, "sqlite"))
                for version, statements in migrations("sqlite"):
                    if version > current:
                        for statement in statements:
                            self._db.execute(statement)
                        self._db.execute(
                            "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                            (str(version),),
                        )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- ingest ------------------------------------------------------------------------
    def batch_applied(self, key: str) -> bool:
        with self._lock:
            return bool(self._db.execute("SELECT 1 FROM batches WHERE key=?", (key,)).fetchone())

    def apply_batch(self, batch: Batch) -> bool:
        db = self._db
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                if db.execute("SELECT 1 FROM batches WHERE key=?", (batch.key,)).fetchone():
                    db.execute("ROLLBACK")
                    return False
                self._upsert_users(batch.users)
                self._upsert_posts(batch.posts)
                self._add_counts(batch.hourly)
                self._note_latest_hour(batch.hourly)
                db.execute(
                    "INSERT INTO batches(key, applied_at, records) VALUES(?,?,?)",
                    (batch.key, int(time.time()), batch.records),
                )
                db.execute("COMMIT")
                return True
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _upsert_users(self, users: Mapping[int, str]) -> None:
        self._db.executemany(
            "INSERT INTO users(id, handle) VALUES(?,?) "
            "ON CONFLICT(id) DO UPDATE SET handle=excluded.handle",
            users.items(),
        )

    def _upsert_posts(self, posts: Mapping[int, Post]) -> None:
        if not posts:
            return
        old_videos = {}
        for chunk in _chunks(list(posts)):
            old_videos.update(
                self._db.execute(
                    f"SELECT id, video_id FROM posts WHERE id IN ({_marks(len(chunk))})", chunk
                ).fetchall()
            )
        # A post whose video changes takes its own views from the old video's total to the new.
        moves: dict[str | None, int] = defaultdict(int)
        for post in posts.values():
            if post.id in old_videos and old_videos[post.id] != post.video_id:
                row = self._db.execute(
                    "SELECT count FROM post_totals WHERE post_id=? AND metric=?",
                    (post.id, VIDEO_VIEWS),
                ).fetchone()
                if row and row[0]:
                    moves[old_videos[post.id]] -= row[0]
                    moves[post.video_id] += row[0]
        self._db.executemany(
            "INSERT INTO posts(id, author_id, created_ms, protected, deleted, video_id) "
            "VALUES(?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET author_id=excluded.author_id, "
            "created_ms=excluded.created_ms, protected=excluded.protected, "
            "deleted=excluded.deleted, video_id=excluded.video_id",
            [
                (p.id, p.author_id, p.created_ms, int(p.protected), int(p.deleted), p.video_id)
                for p in posts.values()
            ],
        )
        self._add_video_totals({v: n for v, n in moves.items() if v is not None and n})

    def _add_counts(self, hourly: HourlyCounts) -> None:
        if not len(hourly):
            return
        self._db.executemany(
            "INSERT INTO post_hourly(post_id, metric, hour, count) VALUES(?,?,?,?) "
            "ON CONFLICT(post_id, metric, hour) DO UPDATE SET count=" + add_sql("post_hourly"),
            hourly.rows(),
        )
        totals = list(hourly.totals())
        self._db.executemany(
            "INSERT INTO post_totals(post_id, metric, count) VALUES(?,?,?) "
            "ON CONFLICT(post_id, metric) DO UPDATE SET count=" + add_sql("post_totals"),
            totals,
        )
        video_views = {p: n for p, m, n in totals if m == VIDEO_VIEWS}
        if video_views:
            per_video: dict[str, int] = defaultdict(int)
            for chunk in _chunks(list(video_views)):
                for post_id, video_id in self._db.execute(
                    f"SELECT id, video_id FROM posts WHERE video_id IS NOT NULL "
                    f"AND id IN ({_marks(len(chunk))})",
                    chunk,
                ):
                    per_video[video_id] += video_views[post_id]
            self._add_video_totals(per_video)

    def _note_latest_hour(self, hourly: HourlyCounts) -> None:
        latest = hourly.latest_hour()
        if latest is not None:
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES('latest_event_hour', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value "
                "WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                (str(latest),),
            )

    def _add_video_totals(self, per_video: Mapping[str, int]) -> None:
        self._db.executemany(
            "INSERT INTO video_totals(video_id, count) VALUES(?,?) "
            "ON CONFLICT(video_id) DO UPDATE SET count=" + add_sql("video_totals"),
            ((video, min(n, MAX_COUNT)) for video, n in per_video.items()),
        )

    # -- reads for the endpoints -------------------------------------------------------
    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        ids = list(ids)
        found: dict[int, Post] = {}
        with self._lock:
            for chunk in _chunks(ids):
                for row in self._db.execute(
                    "SELECT id, author_id, created_ms, protected, deleted, video_id FROM posts "
                    f"WHERE id IN ({_marks(len(chunk))})",
                    chunk,
                ):
                    found[row[0]] = Post._make(row)
        return found

    def recent_posts(self, limit: int, author_id: int | None = None) -> list[Post]:
        where, args = ("WHERE author_id=?", (author_id, limit)) if author_id else ("", (limit,))
        with self._lock:
            rows = self._db.execute(
                "SELECT id, author_id, created_ms, protected, deleted, video_id FROM posts "
                f"{where} ORDER BY id DESC LIMIT ?",
                args,
            ).fetchall()
        return [Post(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5]) for r in rows]

    def read_totals(
        self, post_ids: Sequence[int], metric_codes: Sequence[int]
    ) -> dict[tuple[int, int], int]:
        # One range scan per post beats one seek per (post, metric) pair: filter here.
        wanted = set(metric_codes)
        low, high = min(wanted), max(wanted)
        out: dict[tuple[int, int], int] = {}
        with self._lock:
            for chunk in _chunks(list(post_ids)):
                rows = self._db.execute(
                    "SELECT post_id, metric, count FROM post_totals "
                    f"WHERE post_id IN ({_marks(len(chunk))}) AND metric BETWEEN ? AND ?",
                    (*chunk, low, high),
                )
                for post_id, metric, count in rows:
                    if metric in wanted:
                        out[post_id, metric] = count
        return out

    def read_video_totals(self, video_ids: Iterable[str]) -> dict[str, int]:
        videos = list(dict.fromkeys(video_ids))
        out: dict[str, int] = {}
        with self._lock:
            for chunk in _chunks(videos):
                out.update(
                    self._db.execute(
                        "SELECT video_id, count FROM video_totals "
                        f"WHERE video_id IN ({_marks(len(chunk))})",
                        chunk,
                    ).fetchall()
                )
        return out

    def read_hourly(
        self, post_ids: Sequence[int], metric_codes: Sequence[int], start_hour: int, end_hour: int
    ) -> list[tuple[int, int, int, int]]:
        out: list[tuple[int, int, int, int]] = []
        with self._lock:
            for chunk in _chunks(list(post_ids)):
                out.extend(
                    self._db.execute(
                        "SELECT post_id, metric, hour, count FROM post_hourly "
                        f"WHERE post_id IN ({_marks(len(chunk))}) "
                        f"AND metric IN ({_marks(len(metric_codes))}) AND hour >= ? AND hour < ?",
                        (*chunk, *metric_codes, start_hour, end_hour),
                    ).fetchall()
                )
        return out

    def latest_event_hour(self) -> int | None:
        value = self.get_meta("latest_event_hour")
        return int(value) if value is not None else None

    def read_counts_since(
        self, post_ids: Sequence[int], metric_codes: Sequence[int], from_hour: int
    ) -> dict[tuple[int, int], int]:
        out: dict[tuple[int, int], int] = {}
        with self._lock:
            for chunk in _chunks(list(post_ids)):
                rows = self._db.execute(
                    "SELECT post_id, metric, sum(count) FROM post_hourly "
                    f"WHERE post_id IN ({_marks(len(chunk))}) "
                    f"AND metric IN ({_marks(len(metric_codes))}) AND hour >= ? "
                    "GROUP BY post_id, metric",
                    (*chunk, *metric_codes, from_hour),
                )
                out.update(((p, m), n) for p, m, n in rows)
        return out

    def read_video_counts_since(self, video_ids: Iterable[str], from_hour: int) -> dict[str, int]:
        videos = list(dict.fromkeys(video_ids))
        out: dict[str, int] = {}
        with self._lock:
            for chunk in _chunks(videos):
                out.update(
                    self._db.execute(
                        "SELECT p.video_id, sum(h.count) FROM posts p JOIN post_hourly h "
                        "ON h.post_id = p.id AND h.metric = ? AND h.hour >= ? "
                        f"WHERE p.video_id IN ({_marks(len(chunk))}) GROUP BY p.video_id",
                        (VIDEO_VIEWS, from_hour, *chunk),
                    ).fetchall()
                )
        return out

    # -- users, apps, tokens -----------------------------------------------------------
    def get_user(self, user_id: int) -> User | None:
        with self._lock:
            row = self._db.execute("SELECT id, handle FROM users WHERE id=?", (user_id,)).fetchone()
        return User(*row) if row else None

    def upsert_user(self, user: User) -> None:
        with self._lock:
            self._upsert_users({user.id: user.handle})

    def find_user(self, handle: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, handle FROM users WHERE handle=? COLLATE NOCASE ORDER BY id LIMIT 1",
                (handle.removeprefix("@"),),
            ).fetchone()
        return User(*row) if row else None

    def create_app(
        self, name: str, consumer_key: str, consumer_secret: str, approved: bool, rate_limit: int
    ) -> App:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO apps(name, consumer_key, consumer_secret, approved, rate_limit, "
                "created_at) VALUES(?,?,?,?,?,?)",
                (name, consumer_key, consumer_secret, int(approved), rate_limit, int(time.time())),
            )
        return App(cursor.lastrowid, name, consumer_key, consumer_secret, approved, rate_limit)

    _APP_COLUMNS = "id, name, consumer_key, consumer_secret, approved, rate_limit"

    def _app(self, where: str, value: object) -> App | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._APP_COLUMNS} FROM apps WHERE {where}=?", (value,)
            ).fetchone()
        return App(row[0], row[1], row[2], row[3], bool(row[4]), row[5]) if row else None

    def get_app(self, app_id: int) -> App | None:
        return self._app("id", app_id)

    def get_app_by_key(self, consumer_key: str) -> App | None:
        return self._app("consumer_key", consumer_key)

    def list_apps(self) -> list[App]:
        with self._lock:
            rows = self._db.execute(f"SELECT {self._APP_COLUMNS} FROM apps ORDER BY id").fetchall()
        return [App(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]

    def set_app_approved(self, app_id: int, approved: bool) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE apps SET approved=? WHERE id=?", (int(approved), app_id)
            )
        return cursor.rowcount == 1

    def create_access_token(self, token: AccessToken) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO access_tokens(token, secret, app_id, user_id, created_at) "
                "VALUES(?,?,?,?,?)",
                (token.token, token.secret, token.app_id, token.user_id, int(time.time())),
            )

    def get_access_token(self, token: str) -> AccessToken | None:
        with self._lock:
            row = self._db.execute(
                "SELECT token, secret, app_id, user_id FROM access_tokens WHERE token=?", (token,)
            ).fetchone()
        return AccessToken(*row) if row else None

    def add_bearer_token(self, token_hash: str, app_id: int, now: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO bearer_tokens(token_hash, app_id, created_at) VALUES(?,?,?)",
                (token_hash, app_id, now),
            )

    def bearer_token_app(self, token_hash: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT app_id FROM bearer_tokens WHERE token_hash=? AND revoked_at IS NULL",
                (token_hash,),
            ).fetchone()
        return row[0] if row else None

    def revoke_bearer_token(self, token_hash: str, app_id: int, now: int) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT revoked_at FROM bearer_tokens WHERE token_hash=? AND app_id=?",
                (token_hash, app_id),
            ).fetchone()
            if row is None:
                return False
            if row[0] is None:
                self._db.execute(
                    "UPDATE bearer_tokens SET revoked_at=? WHERE token_hash=?", (now, token_hash)
                )
        return True

    def add_admin_token(self, token_hash: str, now: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO admin_tokens(token_hash, created_at) VALUES(?,?)",
                (token_hash, now),
            )

    def admin_token_valid(self, token_hash: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM admin_tokens WHERE token_hash=? AND revoked_at IS NULL",
                (token_hash,),
            ).fetchone()
        return row is not None

    # -- per-request bookkeeping -------------------------------------------------------
    def remember_nonce(self, consumer_key: str, nonce: str, now: int, ttl: int) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO nonces(consumer_key, nonce, seen_at) VALUES(?,?,?) "
                "ON CONFLICT(consumer_key, nonce) DO UPDATE SET seen_at=excluded.seen_at "
                "WHERE seen_at < ?",
                (consumer_key, nonce, now, now - ttl),
            )
            self._maybe_prune(now, ttl)
        return cursor.rowcount == 1

    def count_request(self, app_id: int, minute: int) -> int:
        with self._lock:
            (count,) = self._db.execute(
                "INSERT INTO request_counts(app_id, minute, count) VALUES(?,?,1) "
                "ON CONFLICT(app_id, minute) DO UPDATE SET count=count+1 RETURNING count",
                (app_id, minute),
            ).fetchone()
            self._maybe_prune(minute * 60, 600)
        return count

    def _maybe_prune(self, now: int, ttl: int) -> None:
        self._writes += 1
        if self._writes % _PRUNE_EVERY == 0:
            self._db.execute("DELETE FROM nonces WHERE seen_at < ?", (now - max(ttl, 600),))
            self._db.execute("DELETE FROM request_counts WHERE minute < ?", (now // 60 - 10,))

    # -- bookkeeping -------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES(?,?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    def counts(self) -> Mapping[str, int]:
        with self._lock:
            return {
                table: self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("users", "posts", "post_hourly", "apps", "batches")
            }

    def close(self) -> None:
        with self._lock:
            self._db.close()
