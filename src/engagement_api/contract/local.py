"""The contract of one host: a SQLite file that every worker process opens (WAL, no fsync:
a crash forgets at most the current minute's counts and recent nonces), or memory for one.

Each operation is one statement, atomic under SQLite's write lock, so counting is exact
across processes; about 6 µs each.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading

from .. import spec
from . import Admission, minute_of

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS minute_counts (app_id INTEGER NOT NULL, minute INTEGER NOT NULL,"
    " count INTEGER NOT NULL, PRIMARY KEY (app_id, minute)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS nonces (digest BLOB PRIMARY KEY, seen_at INTEGER NOT NULL)"
    " WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS nonces_seen_at ON nonces (seen_at)",
)
_PRUNE_EVERY = 4096  # operations between removing what has expired


class SharedFile:
    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._operations = 0

    def admit(self, app_id: int, limit: int, wall_now: float) -> Admission:
        minute, reset = minute_of(wall_now)
        with self._lock:
            row = self._db.execute(
                "INSERT INTO minute_counts(app_id, minute, count) VALUES(?, ?, 1) "
                "ON CONFLICT (app_id, minute) DO UPDATE SET count = count + 1 WHERE count < ? "
                "RETURNING count",
                (app_id, minute, limit),
            ).fetchone()
            self._maybe_prune(minute * spec.RATE_WINDOW)
        if row is None:
            return Admission(False, limit, 0, reset)
        return Admission(True, limit, limit - row[0], reset)

    def spend_nonce(self, consumer_key: str, nonce: str, wall_now: float) -> bool:
        now = int(wall_now)
        digest = hashlib.blake2b(f"{consumer_key}\0{nonce}".encode(), digest_size=16).digest()
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO nonces(digest, seen_at) VALUES(?, ?) ON CONFLICT (digest) "
                "DO UPDATE SET seen_at = excluded.seen_at WHERE seen_at < ?",
                (digest, now, now - spec.NONCE_TTL),
            )
            self._maybe_prune(now)
            return cursor.rowcount == 1

    def _maybe_prune(self, now: int) -> None:
        self._operations += 1
        if self._operations % _PRUNE_EVERY == 0:
            self._db.execute("DELETE FROM nonces WHERE seen_at < ?", (now - spec.NONCE_TTL,))
            self._db.execute(
                "DELETE FROM minute_counts WHERE minute < ?", (now // spec.RATE_WINDOW - 2,)
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
