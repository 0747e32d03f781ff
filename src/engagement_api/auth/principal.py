"""Who a request speaks for, once its credentials are verified, and what verifying reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..store import AccessToken, App


@dataclass(frozen=True, slots=True)
class Principal:
    app: App
    user_id: int | None  # None: app-only (bearer token, or OAuth 1.0a without a user token)
    nonce: str | None = None  # an OAuth 1.0a request's nonce, spent with the request's count

    @property
    def app_only(self) -> bool:
        return self.user_id is None


class Accounts(Protocol):
    """The reads of authentication: the store, or a worker's memory of it."""

    def get_app(self, app_id: int) -> App | None: ...

    def get_app_by_key(self, consumer_key: str) -> App | None: ...

    def get_access_token(self, token: str) -> AccessToken | None: ...

    def bearer_token_app(self, token_hash: str) -> int | None: ...

    def admin_token_valid(self, token_hash: str) -> bool: ...
