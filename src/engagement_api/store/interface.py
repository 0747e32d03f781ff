"""The engine-neutral store interface, by concern. Endpoints, ingest, auth, the portal and the
command line talk to these only; `sql.py` implements them once for both engines (`sqlite.py`,
`postgres.py` say how each connects, migrates, loads a batch and writes an in-list).

- `Reads`: what answering the engagement endpoints reads (a read replica can serve it);
- `Ingest`: applying batches of rolled-up counts;
- `AccountStore`: users, apps and their contracts, access, bearer and admin tokens;
- `UsageStore`: the @handles each app queried per billing month;
- `PeopleStore`: sign-in, the portal and the 3-legged flow;
- `Upkeep`: versions and change markers, schema, meta, counts, reset, secrets, closing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from .base import AccessToken, App, Batch, Post, User
from .people import AccessRequest, Person, RequestToken, Session
from .secrets import SecretBox


class Reads(Protocol):
    """What answering the engagement endpoints reads: the stores, a read replica and a
    worker's memory of them (`store.cached.CachedReads`) all provide it."""

    def data_version(self) -> int:
        """A number every applied batch changes (what workers remember is keyed by it)."""
        ...

    def get_posts(self, ids: Sequence[int]) -> dict[int, Post]: ...

    def read_totals(
        self, post_ids: Sequence[int], metric_codes: Sequence[int]
    ) -> dict[tuple[int, int], int]:
        """All-time counts per (post, metric); absent pairs are zero."""
        ...

    def read_video_totals(self, video_ids: Iterable[str]) -> dict[str, int]:
        """All-time video views per video, summed over every post carrying it."""
        ...

    def read_hourly(
        self, post_ids: Sequence[int], metric_codes: Sequence[int], start_hour: int, end_hour: int
    ) -> list[tuple[int, int, int, int]]:
        """(post, metric, hour, count) rows with start_hour <= hour < end_hour."""
        ...

    def latest_event_hour(self) -> int | None:
        """The latest hour holding any ingested event (it only moves forward)."""
        ...

    def read_counts_since(
        self, post_ids: Sequence[int], metric_codes: Sequence[int], from_hour: int
    ) -> dict[tuple[int, int], int]:
        """Counts per (post, metric) of the hours from `from_hour` on."""
        ...

    def read_video_counts_since(self, video_ids: Iterable[str], from_hour: int) -> dict[str, int]:
        """Video views per video, over every post carrying it, of the hours from `from_hour` on."""
        ...


class Ingest(ABC):
    @abstractmethod
    def apply_batch(self, batch: Batch) -> bool:
        """Apply the batch in one transaction; False (and no change) if its key was applied."""

    @abstractmethod
    def batch_applied(self, key: str) -> bool: ...

    @abstractmethod
    def recent_posts(self, limit: int, author_id: int | None = None) -> list[Post]:
        """The newest posts by id (snowflakes grow with time), optionally of one author."""


class AccountStore(ABC):
    @abstractmethod
    def get_user(self, user_id: int) -> User | None: ...

    @abstractmethod
    def upsert_user(self, user: User) -> None: ...

    @abstractmethod
    def find_user(self, handle: str) -> User | None:
        """By @handle, case-insensitively, with or without the @."""

    @abstractmethod
    def create_app(
        self,
        name: str,
        consumer_key: str,
        consumer_secret: str,
        approved: bool,
        rate_limit: int,
        handle_limit: int | None = None,
        owner_id: int | None = None,
    ) -> App: ...

    @abstractmethod
    def get_app(self, app_id: int) -> App | None: ...

    @abstractmethod
    def get_app_by_key(self, consumer_key: str) -> App | None: ...

    @abstractmethod
    def list_apps(self) -> list[App]: ...

    @abstractmethod
    def set_app_approved(self, app_id: int, approved: bool) -> bool: ...

    @abstractmethod
    def set_app_contract(
        self, app_id: int, rate_limit: int | None = None, handle_limit: object = ...
    ) -> App | None:
        """Change the app's per-minute allowance and/or @handle limit (None: unlimited;
        leave `handle_limit` out to keep it). The app as it is now, or None if unknown."""

    @abstractmethod
    def create_access_token(self, token: AccessToken) -> None: ...

    @abstractmethod
    def get_access_token(self, token: str) -> AccessToken | None: ...

    @abstractmethod
    def add_bearer_token(self, token_hash: str, app_id: int, now: int) -> None: ...

    @abstractmethod
    def bearer_token_app(self, token_hash: str) -> int | None:
        """The app of a live (not invalidated) bearer token."""

    @abstractmethod
    def revoke_bearer_token(self, token_hash: str, app_id: int, now: int) -> bool:
        """False when the token was never issued to this app."""

    @abstractmethod
    def add_admin_token(self, token_hash: str, now: int) -> None: ...

    @abstractmethod
    def admin_token_valid(self, token_hash: str) -> bool: ...


class UsageStore(ABC):
    @abstractmethod
    def record_handle(self, app_id: int, month: str, user_id: int, now: int) -> int | None:
        """Note a user's @handle queried by the app in `month` ("YYYY-MM"): the app's count of
        unique handles that month when the user is new to it, else None."""

    @abstractmethod
    def handle_usage(self, month: str, app_id: int | None = None) -> dict[int, list[str]]:
        """App id -> the @handles it queried in `month`, sorted."""


class PeopleStore(ABC):
    @abstractmethod
    def person(self, handle: str) -> Person | None: ...

    @abstractmethod
    def person_by_id(self, user_id: int) -> Person | None: ...

    @abstractmethod
    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """A new password; the user's sessions end."""

    @abstractmethod
    def set_admin(self, user_id: int, is_admin: bool) -> None: ...

    @abstractmethod
    def apps_of(self, owner_id: int) -> list[App]: ...

    @abstractmethod
    def set_callback_urls(self, app_id: int, urls: list[str]) -> None: ...

    @abstractmethod
    def regenerate_keys(self, app_id: int, consumer_key: str, consumer_secret: str) -> None:
        """New consumer credentials; the old key and the app's bearer tokens stop at once."""

    @abstractmethod
    def has_access_token(self, app_id: int, user_id: int) -> bool: ...

    @abstractmethod
    def revoke_access_tokens(self, app_id: int, user_id: int) -> None: ...

    @abstractmethod
    def request_access(self, app_id: int, now: int) -> None: ...

    @abstractmethod
    def access_request(self, app_id: int) -> AccessRequest | None: ...

    @abstractmethod
    def access_requests(self) -> list[AccessRequest]: ...

    @abstractmethod
    def decide_access(self, app_id: int, approve: bool, now: int) -> None: ...

    @abstractmethod
    def add_request_token(self, token: RequestToken) -> None: ...

    @abstractmethod
    def request_token(self, token: str) -> RequestToken | None: ...

    @abstractmethod
    def settle_request_token(
        self, token: str, state: str, user_id: int | None = None, verifier_hash: str | None = None
    ) -> bool:
        """Move a pending request token to `state`; False if it was not pending any more."""

    @abstractmethod
    def use_request_token(self, token: str, verifier_hash: str) -> bool:
        """Spend an authorized request token with its verifier, once."""

    @abstractmethod
    def add_session(self, id_hash: str, user_id: int, csrf: str, now: int, expires_at: int): ...

    @abstractmethod
    def session(self, id_hash: str, now: int) -> Session | None: ...

    @abstractmethod
    def end_session(self, id_hash: str) -> None: ...


class Upkeep(ABC):
    url: str
    secrets: SecretBox  # opens the consumer and token secrets, which are kept encrypted

    @abstractmethod
    def accounts_version(self) -> int:
        """A number every change to an existing app or token moves (approval, revocation, ...):
        what server workers remember of apps and tokens is keyed by it. Creating an app or a
        token does not move it: nothing unknown is remembered."""

    @abstractmethod
    def versions(self) -> tuple[int, int]:
        """(data_version, accounts_version), read together."""

    def changes(self) -> object:
        """A cheap marker that differs whenever anything may have been committed since it was
        last read; engines that cannot tell cheaply answer a new object every time."""
        return object()

    @abstractmethod
    def reset(self, keep: Iterable[str] = ()) -> None:
        """Empty the engagement data, and of "apps", "users", "tokens" those not in `keep`."""

    @abstractmethod
    def state(self) -> dict[str, int]:
        """Counts of posts, events, apps, users, tokens, batches."""

    @abstractmethod
    def rotate_secrets(self, box: SecretBox) -> int:
        """Re-encrypt every secret with `box`'s newest key in one transaction; how many."""

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...

    @abstractmethod
    def counts(self) -> Mapping[str, int]:
        """Row counts of the main tables, for summaries."""

    @abstractmethod
    def close(self) -> None: ...


class Store(Reads, Ingest, AccountStore, UsageStore, PeopleStore, Upkeep):
    """Everything the server, ingest and the command line keep: one database, by concern."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
