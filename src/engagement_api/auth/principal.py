"""Who a request speaks for, once its credentials are verified."""

from __future__ import annotations

from dataclasses import dataclass

from ..store import App


@dataclass(frozen=True, slots=True)
class Principal:
    app: App
    user_id: int | None  # None: app-only (bearer token, or OAuth 1.0a without a user token)
    consumer_key: str | None = None

    @property
    def app_only(self) -> bool:
        return self.user_id is None
