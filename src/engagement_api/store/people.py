"""What the store keeps for people who sign in: passwords (argon2 hashes), operators, the apps
they own and their callback URLs, Engagement API access requests, the request tokens of the
3-legged flow, and portal sessions. The same SQL on both engines (`SqlStore` mixes it in).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from .base import App, User

REQUEST_PENDING, REQUEST_AUTHORIZED, REQUEST_DENIED, REQUEST_USED = (
    "pending",
    "authorized",
    "denied",
    "used",
)


@dataclass(frozen=True, slots=True)
class Person:
    """A user as sign-in sees them."""

    user: User
    password_hash: str | None
    is_admin: bool


@dataclass(frozen=True, slots=True)
class RequestToken:
    token: str
    secret: str
    app_id: int
    callback: str  # a registered URL, or "oob"
    created_at: int
    state: str
    user_id: int | None
    verifier_hash: str | None


@dataclass(frozen=True, slots=True)
class Session:
    user_id: int
    csrf: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class AccessRequest:
    app_id: int
    status: str  # "pending", "approved", "refused"
    requested_at: int
    decided_at: int | None


class PeopleRecords:
    """Mixed into `SqlStore`: uses its `_one`, `_write`, `_lock`, `_db`, `_q`, `secrets`."""

    _db: Any

    # -- people --------------------------------------------------------------------------
    def person(self, handle: str) -> Person | None:
        row = self._one(
            "SELECT id, handle, password_hash, is_admin FROM users "
            "WHERE lower(handle)=lower(?) ORDER BY id LIMIT 1",
            (handle.removeprefix("@"),),
        )
        return Person(User(row[0], row[1]), row[2], bool(row[3])) if row else None

    def person_by_id(self, user_id: int) -> Person | None:
        row = self._one(
            "SELECT id, handle, password_hash, is_admin FROM users WHERE id=?", (user_id,)
        )
        return Person(User(row[0], row[1]), row[2], bool(row[3])) if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with self._accounts_change():  # sessions of the old password end (see sign_in)
            self._db.execute(
                self._q("UPDATE users SET password_hash=? WHERE id=?"), (password_hash, user_id)
            )
            self._db.execute(self._q("DELETE FROM sessions WHERE user_id=?"), (user_id,))

    def set_admin(self, user_id: int, is_admin: bool) -> None:
        with self._accounts_change():
            self._db.execute(self._q("UPDATE users SET is_admin=? WHERE id=?"), (is_admin, user_id))

    # -- apps of a person ----------------------------------------------------------------
    def apps_of(self, owner_id: int) -> list[App]:
        return [app for app in self.list_apps() if app.owner_id == owner_id]

    def set_callback_urls(self, app_id: int, urls: list[str]) -> None:
        with self._accounts_change():
            self._db.execute(
                self._q("UPDATE apps SET callback_urls=? WHERE id=?"), (json.dumps(urls), app_id)
            )

    def regenerate_keys(self, app_id: int, consumer_key: str, consumer_secret: str) -> None:
        """New consumer credentials; the old key and every bearer token of the app stop
        working at once."""
        with self._accounts_change():
            self._db.execute(
                self._q("UPDATE apps SET consumer_key=?, consumer_secret=? WHERE id=?"),
                (consumer_key, self.secrets.seal(consumer_secret), app_id),
            )
            self._db.execute(
                self._q(
                    "UPDATE bearer_tokens SET revoked_at=? WHERE app_id=? AND revoked_at IS NULL"
                ),
                (_now(), app_id),
            )

    def has_access_token(self, app_id: int, user_id: int) -> bool:
        return (
            self._one(
                "SELECT 1 FROM access_tokens WHERE app_id=? AND user_id=? LIMIT 1",
                (app_id, user_id),
            )
            is not None
        )

    def revoke_access_tokens(self, app_id: int, user_id: int) -> None:
        with self._accounts_change():
            self._db.execute(
                self._q("DELETE FROM access_tokens WHERE app_id=? AND user_id=?"),
                (app_id, user_id),
            )

    # -- access requests -----------------------------------------------------------------
    def request_access(self, app_id: int, now: int) -> None:
        self._write(
            "INSERT INTO access_requests(app_id, status, requested_at) VALUES(?, 'pending', ?) "
            "ON CONFLICT (app_id) DO UPDATE SET status='pending', requested_at=excluded."
            "requested_at, decided_at=NULL",
            (app_id, now),
        )

    def access_request(self, app_id: int) -> AccessRequest | None:
        row = self._one(
            "SELECT app_id, status, requested_at, decided_at FROM access_requests WHERE app_id=?",
            (app_id,),
        )
        return AccessRequest(*row) if row else None

    def access_requests(self) -> list[AccessRequest]:
        with self._lock:
            rows = self._db.execute(
                "SELECT app_id, status, requested_at, decided_at FROM access_requests "
                "ORDER BY requested_at DESC"
            ).fetchall()
        return [AccessRequest(*row) for row in rows]

    def decide_access(self, app_id: int, approve: bool, now: int) -> None:
        with self._accounts_change():
            self._db.execute(  # an operator may decide for an app that never asked
                self._q(
                    "INSERT INTO access_requests(app_id, status, requested_at, decided_at) "
                    "VALUES(?, ?, ?, ?) ON CONFLICT (app_id) DO UPDATE SET "
                    "status=excluded.status, decided_at=excluded.decided_at"
                ),
                (app_id, "approved" if approve else "refused", now, now),
            )
            self._db.execute(self._q("UPDATE apps SET approved=? WHERE id=?"), (approve, app_id))

    # -- request tokens of the 3-legged flow -------------------------------------------
    def add_request_token(self, token: RequestToken) -> None:
        self._write(
            "INSERT INTO request_tokens(token, secret, app_id, callback, created_at, state) "
            "VALUES(?,?,?,?,?,?)",
            (
                token.token,
                self.secrets.seal(token.secret),
                token.app_id,
                token.callback,
                token.created_at,
                REQUEST_PENDING,
            ),
        )

    def request_token(self, token: str) -> RequestToken | None:
        row = self._one(
            "SELECT token, secret, app_id, callback, created_at, state, user_id, verifier_hash "
            "FROM request_tokens WHERE token=?",
            (token,),
        )
        if row is None:
            return None
        return RequestToken(row[0], self.secrets.open(row[1]), *row[2:])

    def settle_request_token(
        self, token: str, state: str, user_id: int | None = None, verifier_hash: str | None = None
    ) -> bool:
        """Move a pending request token to `authorized` or `denied`; False if it was not
        pending any more (a second click, a race)."""
        found = self._one(
            "UPDATE request_tokens SET state=?, user_id=?, verifier_hash=? "
            "WHERE token=? AND state='pending' RETURNING 1",
            (state, user_id, verifier_hash, token),
        )
        self._wrote()
        return found is not None

    def use_request_token(self, token: str, verifier_hash: str) -> bool:
        """Spend an authorized request token with its verifier, once: False if the token is
        not authorized, the verifier is another, or it was spent already."""
        found = self._one(
            "UPDATE request_tokens SET state='used' "
            "WHERE token=? AND state='authorized' AND verifier_hash=? RETURNING 1",
            (token, verifier_hash),
        )
        self._wrote()
        return found is not None

    # -- sessions --------------------------------------------------------------------------
    def add_session(self, id_hash: str, user_id: int, csrf: str, now: int, expires_at: int):
        self._write(
            "INSERT INTO sessions(id_hash, user_id, csrf, created_at, expires_at) "
            "VALUES(?,?,?,?,?)",
            (id_hash, user_id, csrf, now, expires_at),
        )
        self._write("DELETE FROM sessions WHERE expires_at < ?", (now,))

    def session(self, id_hash: str, now: int) -> Session | None:
        row = self._one(
            "SELECT user_id, csrf, expires_at FROM sessions WHERE id_hash=? AND expires_at >= ?",
            (id_hash, now),
        )
        return Session(*row) if row else None

    def end_session(self, id_hash: str) -> None:
        self._write("DELETE FROM sessions WHERE id_hash=?", (id_hash,))


def _now() -> int:
    return int(time.time())
