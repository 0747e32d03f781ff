"""What both SQL engines keep the same way: users, apps, tokens, metadata.

The statements are written once with `?` placeholders; an engine that uses another style
sets `placeholder` and they are translated once, at class creation. The engines keep their
own code only where SQL really differs: ingest, the endpoint reads and the schema.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .base import AccessToken, App, Store, User
from .people import PeopleRecords
from .secrets import SecretBox

_APP_COLUMNS = (
    "id, name, consumer_key, consumer_secret, approved, rate_limit, handle_limit, owner_id, "
    "callback_urls"
)
UNCHANGED = object()  # set_app_contract: leave this part of the contract as it is


class SqlRecords(PeopleRecords, Store):
    """Shared statements over a DB-API connection `self._db`, guarded by `self._lock`."""

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

    # -- users -------------------------------------------------------------------------
    def _upsert_users(self, users: Mapping[int, str]) -> None:
        if users:
            self._executemany(
                "INSERT INTO users(id, handle) VALUES(?,?) "
                "ON CONFLICT (id) DO UPDATE SET handle=excluded.handle",
                list(users.items()),
            )

    def get_user(self, user_id: int) -> User | None:
        row = self._one("SELECT id, handle FROM users WHERE id=?", (user_id,))
        return User(*row) if row else None

    def upsert_user(self, user: User) -> None:
        with self._lock:
            self._upsert_users({user.id: user.handle})
            self._wrote()

    def find_user(self, handle: str) -> User | None:
        row = self._one(
            "SELECT id, handle FROM users WHERE lower(handle)=lower(?) ORDER BY id LIMIT 1",
            (handle.removeprefix("@"),),
        )
        return User(*row) if row else None

    # -- apps and tokens -----------------------------------------------------------------
    def create_app(
        self,
        name: str,
        consumer_key: str,
        consumer_secret: str,
        approved: bool,
        rate_limit: int,
        handle_limit: int | None = None,
        owner_id: int | None = None,
    ) -> App:
        (app_id,) = self._one(
            "INSERT INTO apps(name, consumer_key, consumer_secret, approved, rate_limit, "
            "handle_limit, owner_id, created_at) VALUES(?,?,?,?,?,?,?,?) RETURNING id",
            (
                name,
                consumer_key,
                self.secrets.seal(consumer_secret),
                approved,
                rate_limit,
                handle_limit,
                owner_id,
                int(time.time()),
            ),
        )
        self._wrote()
        return App(
            app_id,
            name,
            consumer_key,
            consumer_secret,
            approved,
            rate_limit,
            handle_limit,
            owner_id,
        )

    def set_app_contract(
        self, app_id: int, rate_limit: int | None = None, handle_limit: object = UNCHANGED
    ) -> App | None:
        """Change the per-minute allowance and/or the @handle limit (None: unlimited)."""
        with self._accounts_change():
            if rate_limit is not None:
                self._db.execute(
                    self._q("UPDATE apps SET rate_limit=? WHERE id=?"), (rate_limit, app_id)
                )
            if handle_limit is not UNCHANGED:
                self._db.execute(
                    self._q("UPDATE apps SET handle_limit=? WHERE id=?"), (handle_limit, app_id)
                )
        return self.get_app(app_id)

    def _app(self, where: str, value: object) -> App | None:
        row = self._one(f"SELECT {_APP_COLUMNS} FROM apps WHERE {where}=?", (value,))
        return self._app_of(row) if row else None

    def _app_of(self, row) -> App:
        """An `apps` row read as `_APP_COLUMNS` (the engines store `approved` as 0/1 or bool)."""
        return App(
            row[0], row[1], row[2], self.secrets.open(row[3]), bool(row[4]), row[5], row[6],
            row[7], tuple(json.loads(row[8])) if row[8] else (),
        )  # fmt: skip

    def get_app(self, app_id: int) -> App | None:
        return self._app("id", app_id)

    def get_app_by_key(self, consumer_key: str) -> App | None:
        return self._app("consumer_key", consumer_key)

    def list_apps(self) -> list[App]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_APP_COLUMNS} FROM apps ORDER BY id").fetchall()
        return [self._app_of(row) for row in rows]

    def set_app_approved(self, app_id: int, approved: bool) -> bool:
        with self._accounts_change():
            found = self._db.execute(
                self._q("UPDATE apps SET approved=? WHERE id=? RETURNING id"), (approved, app_id)
            ).fetchall()
        return bool(found)

    def create_access_token(self, token: AccessToken) -> None:
        self._write(
            "INSERT INTO access_tokens(token, secret, app_id, user_id, created_at) "
            "VALUES(?,?,?,?,?)",
            (
                token.token,
                self.secrets.seal(token.secret),
                token.app_id,
                token.user_id,
                int(time.time()),
            ),
        )

    def get_access_token(self, token: str) -> AccessToken | None:
        row = self._one(
            "SELECT token, secret, app_id, user_id FROM access_tokens WHERE token=?", (token,)
        )
        return AccessToken(row[0], self.secrets.open(row[1]), row[2], row[3]) if row else None

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

    # -- @handle usage -------------------------------------------------------------------
    def record_handle(self, app_id: int, month: str, user_id: int, now: int) -> int | None:
        """Note that `user_id`'s @handle was queried by the app in `month`. The app's count of
        unique handles that month when this is the first time, else None. Counted under a
        row lock, so every count is handed out once however many hosts record at once."""
        with self._lock, self._transaction():
            inserted = self._db.execute(
                self._q(
                    "INSERT INTO handle_usage(app_id, month, user_id, first_at) VALUES(?,?,?,?) "
                    "ON CONFLICT (app_id, month, user_id) DO NOTHING RETURNING 1"
                ),
                (app_id, month, user_id, now),
            ).fetchall()
            if not inserted:
                return None
            ((handles,),) = self._db.execute(
                self._q(
                    "INSERT INTO usage_months(app_id, month, handles) VALUES(?,?,1) "
                    "ON CONFLICT (app_id, month) DO UPDATE "
                    "SET handles = usage_months.handles + 1 RETURNING handles"
                ),
                (app_id, month),
            ).fetchall()  # drained: a RETURNING statement still stepping would block COMMIT
        self._wrote()
        return handles

    def handle_usage(self, month: str, app_id: int | None = None) -> dict[int, list[str]]:
        """App id -> the @handles it queried in `month`, sorted (apps with none left out)."""
        where, args = ("AND u.app_id=?", (month, app_id)) if app_id is not None else ("", (month,))
        with self._lock:
            rows = self._db.execute(
                self._q(
                    "SELECT u.app_id, coalesce(h.handle, CAST(u.user_id AS TEXT)) "
                    "FROM handle_usage u LEFT JOIN users h ON h.id = u.user_id "
                    f"WHERE u.month=? {where} ORDER BY u.app_id"
                ),
                args,
            ).fetchall()
        usage: dict[int, list[str]] = {}
        for app, handle in rows:
            usage.setdefault(app, []).append(handle)
        return {app: sorted(handles) for app, handles in usage.items()}

    def add_bearer_token(self, token_hash: str, app_id: int, now: int) -> None:
        self._write(
            "INSERT INTO bearer_tokens(token_hash, app_id, created_at) VALUES(?,?,?)",
            (token_hash, app_id, now),
        )

    def bearer_token_app(self, token_hash: str) -> int | None:
        row = self._one(
            "SELECT app_id FROM bearer_tokens WHERE token_hash=? AND revoked_at IS NULL",
            (token_hash,),
        )
        return row[0] if row else None

    def revoke_bearer_token(self, token_hash: str, app_id: int, now: int) -> bool:
        with self._accounts_change():
            found = self._db.execute(
                self._q(
                    "UPDATE bearer_tokens SET revoked_at = coalesce(revoked_at, ?) "
                    "WHERE token_hash=? AND app_id=? RETURNING 1"
                ),
                (now, token_hash, app_id),
            ).fetchall()
        return bool(found)

    def add_admin_token(self, token_hash: str, now: int) -> None:
        self._write(
            "INSERT INTO admin_tokens(token_hash, created_at) VALUES(?,?)", (token_hash, now)
        )

    def admin_token_valid(self, token_hash: str) -> bool:
        row = self._one(
            "SELECT 1 FROM admin_tokens WHERE token_hash=? AND revoked_at IS NULL", (token_hash,)
        )
        return row is not None

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
        from ..spec import METRIC_BY_NAME

        derived = METRIC_BY_NAME["engagements"].code
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
