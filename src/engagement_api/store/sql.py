"""The store of both SQL engines, written once: the plumbing of one DB-API connection, the
bookkeeping (versions, meta, reset, state, secrets at rest), and by concern the mixins of
`sql_reads.py` (the endpoint reads), `accounts.py` and `people.py`.

The statements are written with `?` placeholders; an engine that uses another style sets
`placeholder` (`_q` translates). The engines keep their own code only where SQL really
differs: connecting, the schema and its migration, loading a batch, and an in-list.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .. import spec
from .accounts import AccountRecords
from .interface import Store
from .migrations import SchemaError, latest, migrations, too_new
from .people import PeopleRecords
from .secrets import SecretBox
from .sql_reads import SqlReads


class SqlStore(SqlReads, AccountRecords, PeopleRecords, Store):
    """Shared statements over a DB-API connection `self._db`, guarded by `self._lock`."""

    engine: str  # the schema files' prefix: "sqlite", "postgresql"
    placeholder = "?"
    _db: Any

    def __init__(self, secrets: SecretBox | None) -> None:
        self._lock = threading.RLock()
        self._writes = 0  # statements that changed something, on this connection
        self.secrets = secrets or SecretBox.from_file()

    def _q(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _transaction(self) -> contextlib.AbstractContextManager:
        """One transaction on this connection (the engines say how), holding the lock."""
        raise NotImplementedError

    def _wrote(self) -> None:
        """Note a committed change made through this connection: `changes()` then moves."""
        self._writes += 1

    @contextlib.contextmanager
    def _accounts_change(self) -> Iterator[None]:
        """A change to existing apps or tokens, in one transaction with the accounts version."""
        with self._lock, self._transaction():
            yield
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES('accounts_version', '1') ON CONFLICT (key) "
                "DO UPDATE SET value=CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)"
            )
        self._wrote()

    def _execute(self, sql: str, args: Iterable = ()):
        with self._lock:
            return self._db.execute(self._q(sql), tuple(args))

    def _write(self, sql: str, args: Iterable = ()):
        """A statement that changes something, committed on its own."""
        with self._lock:
            cursor = self._db.execute(self._q(sql), tuple(args))
            self._wrote()
            return cursor

    def _one(self, sql: str, args: Iterable = ()):
        """The first row, or None. The cursor is drained, so that a write statement with
        RETURNING is finished (and, outside a transaction, committed) when this returns."""
        with self._lock:
            rows = self._db.execute(self._q(sql), tuple(args)).fetchall()
        return rows[0] if rows else None

    def _executemany(self, sql: str, rows: Iterable) -> None:
        raise NotImplementedError

    # -- schema ------------------------------------------------------------------------
    def _lock_for_migration(self) -> None:
        """Inside the migration's transaction: keep other processes from migrating at once
        (SQLite's BEGIN IMMEDIATE already does)."""

    def _migrate(self) -> None:
        """Apply the schema files this store has not seen, in one transaction."""
        with self._transaction():
            self._lock_for_migration()
            current = self.schema_version()
            if current > latest(self.engine):
                raise SchemaError(too_new(self.url, current, self.engine))
            for version, statements in migrations(self.engine):
                if version > current:
                    for statement in statements:
                        self._db.execute(statement)
                    self._db.execute(
                        self._q(
                            "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                            "ON CONFLICT (key) DO UPDATE SET value=excluded.value"
                        ),
                        (str(version),),
                    )

    # -- secrets at rest -----------------------------------------------------------------
    _SECRET_COLUMNS = (("apps", "id", "consumer_secret"), ("access_tokens", "token", "secret"))

    def _reseal_secrets(self, box: SecretBox, only_plain: bool) -> int:
        """Encrypt secrets with `box`'s newest key, in one transaction: every secret, or only
        those still plain. The number rewritten."""
        done = 0
        with self._lock, self._transaction():
            for table, key, column in self._SECRET_COLUMNS:
                where = f" WHERE {column} NOT LIKE 'fernet:%'" if only_plain else ""
                rows = self._db.execute(f"SELECT {key}, {column} FROM {table}{where}").fetchall()
                for row_key, stored in rows:
                    self._db.execute(
                        self._q(f"UPDATE {table} SET {column}=? WHERE {key}=?"),
                        (box.seal(self.secrets.open(stored)), row_key),
                    )
                done += len(rows)
        if done:
            self._wrote()
        return done

    def seal_plain_secrets(self) -> int:
        """Secrets written before encryption, encrypted now (done when a store opens)."""
        return self._reseal_secrets(self.secrets, only_plain=True)

    def rotate_secrets(self, box: SecretBox) -> int:
        """Every secret re-encrypted with `box`'s newest key; `box` is the store's from now."""
        done = self._reseal_secrets(box, only_plain=False)
        self.secrets = box
        return done

    # -- a clean state (the integrator's toolkit) ----------------------------------------
    KEEPABLE = ("apps", "users", "tokens")
    _ENGAGEMENT_TABLES = (
        "post_hourly",
        "post_totals",
        "video_totals",
        "posts",
        "batches",
        "handle_usage",
        "usage_months",
    )

    def reset(self, keep: Iterable[str] = ()) -> None:
        """Empty the engagement data, and the apps, users and tokens not in `keep`, in one
        transaction. Admin tokens stay (they are what asked)."""
        keep = set(keep)
        tables = list(self._ENGAGEMENT_TABLES)
        if "tokens" not in keep or "apps" not in keep:
            tables += ["access_tokens", "bearer_tokens", "request_tokens"]
        if "apps" not in keep:
            tables += ["access_requests", "apps"]
        if "users" not in keep:
            tables += ["sessions", "users"]
        with self._accounts_change():
            for table in tables:
                self._db.execute(f"DELETE FROM {table}")
            self._db.execute("DELETE FROM meta WHERE key='latest_event_hour'")
            self._bump_data_version()

    def state(self) -> dict[str, int]:
        """What the store holds, counted: posts, events, apps, users, tokens, batches."""
        derived = spec.ENGAGEMENTS.code
        with self._lock:
            one = lambda sql, *args: self._db.execute(self._q(sql), args).fetchone()[0]  # noqa: E731
            return {
                "posts": one("SELECT count(*) FROM posts"),
                "events": int(
                    one(
                        "SELECT coalesce(sum(count), 0) FROM post_hourly WHERE metric <> ?", derived
                    )
                ),
                "apps": one("SELECT count(*) FROM apps"),
                "users": one("SELECT count(*) FROM users"),
                "tokens": one("SELECT count(*) FROM access_tokens")
                + one("SELECT count(*) FROM bearer_tokens WHERE revoked_at IS NULL"),
                "batches": one("SELECT count(*) FROM batches"),
            }

    # -- bookkeeping -------------------------------------------------------------------
    def batch_applied(self, key: str) -> bool:
        return self._one("SELECT 1 FROM batches WHERE key=?", (key,)) is not None

    def data_version(self) -> int:
        value = self.get_meta("data_version")
        return int(value) if value is not None else 0

    def accounts_version(self) -> int:
        value = self.get_meta("accounts_version")
        return int(value) if value is not None else 0

    def versions(self) -> tuple[int, int]:
        with self._lock:
            found = dict(
                self._db.execute(
                    "SELECT key, value FROM meta WHERE key IN ('data_version', 'accounts_version')"
                ).fetchall()
            )
        return int(found.get("data_version", 0)), int(found.get("accounts_version", 0))

    # Both called inside apply_batch's transaction.
    def _note_latest_hour(self, hour: int | None) -> None:
        if hour is not None:
            self._db.execute(
                self._q(
                    "INSERT INTO meta(key, value) VALUES('latest_event_hour', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value=excluded.value "
                    "WHERE CAST(meta.value AS BIGINT) < CAST(excluded.value AS BIGINT)"
                ),
                (str(hour),),
            )

    def _bump_data_version(self) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES('data_version', '1') ON CONFLICT (key) "
            "DO UPDATE SET value=CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)"
        )

    def latest_event_hour(self) -> int | None:
        value = self.get_meta("latest_event_hour")
        return int(value) if value is not None else None

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key=?", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._write(
            "INSERT INTO meta(key, value) VALUES(?,?) "
            "ON CONFLICT (key) DO UPDATE SET value=excluded.value",
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
