"""The embedded SQLite engine: one file, zero set-up, WAL so readers never wait for ingest."""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from .. import spec
from .base import MAX_COUNT, Batch, HourlyCounts, Post, add_sql
from .changes import ChangeCounter
from .secrets import SecretBox
from .sql import SqlStore

PRAGMA_EVERY = 1.0  # seconds between PRAGMA data_version checks (see changes())

_CHUNK = 900  # values per IN (...) list, well under SQLite's bound on parameters


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _chunks(items: Sequence, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


class SQLiteStore(SqlStore):
    engine = "sqlite"

    def __init__(
        self, path: str | os.PathLike, url: str | None = None, secrets: SecretBox | None = None
    ) -> None:
        super().__init__(secrets)  # one connection; the CLI and tests may share it across threads
        self.path = Path(path)
        self.url = url or f"sqlite:///{self.path}"
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Readable by its owner only (SQLite gives its -wal and -shm files the same mode).
            # Only a new file is touched: closing any descriptor of a database file drops the
            # POSIX locks every SQLite connection of this process holds on it.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        self._db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=30.0
        )
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "cache_size=-65536",
            "temp_store=MEMORY",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._counter = None if str(path) == ":memory:" else ChangeCounter(f"{path}-changes")
        self._pragma_checked = -math.inf
        self._pragma_version = None
        self._migrate()
        self.seal_plain_secrets()

    def _executemany(self, sql: str, rows) -> None:
        with self._lock:
            self._db.executemany(sql, rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _wrote(self) -> None:
        super()._wrote()
        if self._counter is not None:
            self._counter.move()

    def changes(self) -> object:
        # Every commit moves the shared counter (our own commits count in _writes too); once
        # a second, PRAGMA data_version also catches a commit whose process died before
        # moving it.
        now = time.monotonic()
        if now - self._pragma_checked >= PRAGMA_EVERY:
            self._pragma_checked = now
            with self._lock:
                self._pragma_version = self._db.execute("PRAGMA data_version").fetchone()[0]
        shared = self._counter.value() if self._counter is not None else None
        return shared, self._writes, self._pragma_version

    def close(self) -> None:
        super().close()
        if self._counter is not None:
            self._counter.close()

    # -- schema ------------------------------------------------------------------------
    def schema_version(self) -> int:
        has_meta = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        if not has_meta:
            return 0
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    # -- ingest ------------------------------------------------------------------------
    def apply_batch(self, batch: Batch) -> bool:
        db = self._db
        with self._transaction():
            if db.execute("SELECT 1 FROM batches WHERE key=?", (batch.key,)).fetchone():
                return False  # nothing written: the commit is empty
            self._upsert_users(batch.users)
            self._upsert_posts(batch.posts)
            self._add_counts(batch.hourly)
            self._note_latest_hour(batch.hourly.latest_hour())
            self._bump_data_version()
            db.execute(
                "INSERT INTO batches(key, applied_at, records) VALUES(?,?,?)",
                (batch.key, int(time.time()), batch.records),
            )
        self._wrote()
        return True

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
                    (post.id, spec.VIDEO_VIEWS.code),
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
        video_views = {p: n for p, m, n in totals if m == spec.VIDEO_VIEWS.code}
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

    def _add_video_totals(self, per_video: Mapping[str, int]) -> None:
        self._db.executemany(
            "INSERT INTO video_totals(video_id, count) VALUES(?,?) "
            "ON CONFLICT(video_id) DO UPDATE SET count=" + add_sql("video_totals"),
            ((video, min(n, MAX_COUNT)) for video, n in per_video.items()),
        )

    # -- in-lists ----------------------------------------------------------------------
    def _in_lists(self, column: str, values: Sequence, sql_type: str):
        for chunk in _chunks(values):
            yield f"{column} IN ({_marks(len(chunk))})", list(chunk)
