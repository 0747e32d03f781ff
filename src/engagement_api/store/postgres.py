"""The PostgreSQL engine: the same interface as SQLite, laid out for Citus (docs/scaling.md).

Ingest batches load their rolled-up rows with COPY into a temporary staging table and apply
them with one upsert per table, in one transaction with the batch key.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence

import psycopg
import pyarrow.csv as pa_csv

from .. import spec
from .base import MAX_COUNT, Batch, HourlyCounts, Post, add_sql
from .migrations import SchemaError, latest
from .secrets import SecretBox
from .sql import SqlStore
from .sql_reads import POST_COLUMNS

CONNECT_TIMEOUT = 5  # seconds
_MIGRATION_LOCK = 0x656E6761  # pg_advisory_xact_lock key: one migrating process at a time


def _add(table: str) -> str:
    return add_sql(table, "greatest")


class PostgresStore(SqlStore):
    engine = "postgresql"
    placeholder = "%s"

    def __init__(self, url: str, secrets: SecretBox | None = None, read_only: bool = False) -> None:
        """`read_only`: a streaming replica, only read (nothing is migrated or sealed; its
        schema must be this version's)."""
        super().__init__(secrets)
        self.url = url
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.OperationalError as error:
            raise ValueError(f"cannot connect to {url}: {error}".strip()) from None
        if read_only:
            found, expected = self.schema_version(), latest(self.engine)
            if found != expected:
                self.close()
                raise SchemaError(f"{url} holds schema {found}, not {expected}: not a replica")
            return
        self._migrate()
        self.seal_plain_secrets()

    def _executemany(self, sql: str, rows) -> None:
        with self._lock, self._db.cursor() as cursor:
            cursor.executemany(self._q(sql), rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock, self._db.transaction():
            yield

    # -- schema ------------------------------------------------------------------------
    def schema_version(self) -> int:
        if self._db.execute("SELECT to_regclass('meta')").fetchone()[0] is None:
            return 0
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _lock_for_migration(self) -> None:
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

    # -- ingest ------------------------------------------------------------------------
    def apply_batch(self, batch: Batch) -> bool:
        with self._lock:
            try:
                with self._db.transaction():
                    claimed = self._db.execute(
                        "INSERT INTO batches(key, applied_at, records) VALUES(%s,%s,%s) "
                        "ON CONFLICT (key) DO NOTHING RETURNING key",
                        (batch.key, int(time.time()), batch.records),
                    ).fetchone()
                    if claimed is None:
                        raise _AlreadyApplied
                    self._upsert_users(batch.users)
                    self._upsert_posts(batch.posts)
                    self._add_counts(batch.hourly)
                    self._note_latest_hour(batch.hourly.latest_hour())
                    self._bump_data_version()
            except _AlreadyApplied:
                return False
            self._wrote()
        return True

    def _upsert_posts(self, posts: Mapping[int, Post]) -> None:
        if not posts:
            return
        ids = list(posts)
        old_videos = dict(
            self._db.execute(
                "SELECT id, video_id FROM posts WHERE id = ANY(%s::bigint[]) FOR UPDATE", (ids,)
            ).fetchall()
        )
        moved = [
            p.id for p in posts.values() if p.id in old_videos and old_videos[p.id] != p.video_id
        ]
        moves: dict[str | None, int] = defaultdict(int)
        if moved:
            for post_id, count in self._db.execute(
                "SELECT post_id, count FROM post_totals WHERE post_id = ANY(%s::bigint[]) "
                "AND metric = %s",
                (moved, spec.VIDEO_VIEWS.code),
            ):
                moves[old_videos[post_id]] -= count
                moves[posts[post_id].video_id] += count
        with self._db.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO posts({POST_COLUMNS}) VALUES(%s,%s,%s,%s,%s,%s) "
                "ON CONFLICT (id) DO UPDATE SET author_id=excluded.author_id, "
                "created_ms=excluded.created_ms, protected=excluded.protected, "
                "deleted=excluded.deleted, video_id=excluded.video_id",
                [
                    (p.id, p.author_id, p.created_ms, p.protected, p.deleted, p.video_id)
                    for p in posts.values()
                ],
            )
        self._add_video_totals({v: n for v, n in moves.items() if v is not None and n})

    def _add_counts(self, hourly: HourlyCounts) -> None:
        if not len(hourly):
            return
        db = self._db
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS stage_hourly (post_id BIGINT, metric SMALLINT, "
            "hour INTEGER, count BIGINT) ON COMMIT DELETE ROWS"
        )
        data = io.BytesIO()
        pa_csv.write_csv(hourly.table, data, pa_csv.WriteOptions(include_header=False))
        with (
            db.cursor() as cursor,
            cursor.copy(
                "COPY stage_hourly (post_id, metric, hour, count) FROM STDIN (FORMAT csv)"
            ) as copy,
        ):
            copy.write(data.getbuffer())
        db.execute(
            "INSERT INTO post_hourly (post_id, metric, hour, count) "
            "SELECT post_id, metric, hour, count FROM stage_hourly "
            "ON CONFLICT (post_id, metric, hour) DO UPDATE "
            "SET count = " + _add("post_hourly")
        )
        db.execute(
            "INSERT INTO post_totals (post_id, metric, count) "
            f"SELECT post_id, metric, least(sum(count), {MAX_COUNT})::bigint FROM stage_hourly "
            "GROUP BY post_id, metric "
            "ON CONFLICT (post_id, metric) DO UPDATE SET count = " + _add("post_totals")
        )
        db.execute(
            "INSERT INTO video_totals (video_id, count) "
            f"SELECT p.video_id, least(sum(s.count), {MAX_COUNT})::bigint FROM stage_hourly s "
            "JOIN posts p ON p.id = s.post_id "
            "WHERE s.metric = %s AND p.video_id IS NOT NULL GROUP BY p.video_id "
            "ON CONFLICT (video_id) DO UPDATE SET count = " + _add("video_totals"),
            (spec.VIDEO_VIEWS.code,),
        )

    def _add_video_totals(self, per_video: Mapping[str, int]) -> None:
        if per_video:
            with self._db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO video_totals(video_id, count) VALUES(%s,%s) "
                    "ON CONFLICT (video_id) DO UPDATE SET count = " + _add("video_totals"),
                    [(video, min(n, MAX_COUNT)) for video, n in per_video.items()],
                )

    # -- streaming replication ---------------------------------------------------------
    def wal_position(self) -> int:
        """The primary's write-ahead log position in bytes: where its last record went in
        (with asynchronous commit, records may be inserted well before they are written)."""
        with self._lock:
            return int(self._db.execute("SELECT pg_current_wal_insert_lsn() - '0/0'").fetchone()[0])

    def replay_state(self) -> tuple[bool, int | None, float | None]:
        """A standby's (in recovery, WAL position replayed in bytes, seconds since the commit
        of the last transaction replayed)."""
        with self._lock:
            recovering, replayed, age = self._db.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() - '0/0', "
                "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
            ).fetchone()
        return (
            recovering,
            None if replayed is None else int(replayed),
            None if age is None else float(age),
        )

    # -- in-lists ----------------------------------------------------------------------
    def _in_lists(self, column: str, values: Sequence, sql_type: str):
        yield f"{column} = ANY(?::{sql_type}[])", [list(values)]


class _AlreadyApplied(Exception):
    """Rolls back a batch whose key another ingest has applied."""
