"""Users, apps and their contracts, access tokens, bearer and admin tokens, and the @handle
usage of each app: the same SQL on both engines (`SqlStore` mixes it in)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from .base import AccessToken, App, User

_APP_COLUMNS = (
    "id, name, consumer_key, consumer_secret, approved, rate_limit, handle_limit, owner_id, "
    "callback_urls"
)
UNCHANGED = object()  # set_app_contract: leave this part of the contract as it is


class AccountRecords:
    """Mixed into `SqlStore`: uses its `_one`, `_write`, `_executemany`, `_accounts_change`,
    `_transaction`, `_lock`, `_db`, `_q` and `secrets`."""

    _db: Any

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
