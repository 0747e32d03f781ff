"""The engine-neutral store interface and the records it speaks in.

Endpoints, ingest and auth talk to this interface only; `sqlite.py` (and the PostgreSQL engine)
implement it. Times are integers: posts' creation in ms, event hours as epoch hours
(seconds // 3600), everything else in epoch seconds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from .secrets import SecretBox

MAX_COUNT = 2**63 - 1  # counts saturate here instead of overflowing a 64-bit column


def add_sql(table: str, larger: str = "max") -> str:
    """`count + excluded.count` for an upsert into `table`, saturating at MAX_COUNT.

    `larger` names the engine's two-argument maximum (`max` in SQLite, `greatest` in
    PostgreSQL); negative deltas (a post moving to another video) never saturate.
    """
    headroom = f"{MAX_COUNT} - {larger}(excluded.count, 0)"
    return (
        f"CASE WHEN {table}.count > {headroom} THEN {MAX_COUNT} "
        f"ELSE {table}.count + excluded.count END"
    )


class Post(NamedTuple):  # a tuple: up to 250 are read on every /totals request
    id: int
    author_id: int
    created_ms: int
    protected: bool = False
    deleted: bool = False
    video_id: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    id: int
    handle: str


@dataclass(frozen=True, slots=True)
class App:
    id: int
    name: str
    consumer_key: str
    consumer_secret: str
    approved: bool
    rate_limit: int  # requests per minute
    handle_limit: int | None = None  # unique @handles per billing month; None: unlimited
    owner_id: int | None = None  # the user who created it in the portal, if one did
    callback_urls: tuple[str, ...] = ()  # where the 3-legged flow may send its users


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    secret: str
    app_id: int
    user_id: int


class HourlyCounts:
    """Rolled-up increments per (post, metric, hour), as sorted columns, each key once."""

    COLUMNS = ("post_id", "metric", "hour", "count")

    def __init__(self, table: pa.Table | None = None) -> None:
        self.table = (
            table
            if table is not None
            else pa.table(
                {
                    "post_id": pa.array([], pa.int64()),
                    "metric": pa.array([], pa.int16()),
                    "hour": pa.array([], pa.int32()),
                    "count": pa.array([], pa.int64()),
                }
            )
        )

    @classmethod
    def combine(
        cls, rolled: pa.Table | None, extra: Mapping[tuple[int, int, int], int]
    ) -> HourlyCounts:
        """Column-wise roll-up plus record-path counts, summed per key, saturating."""
        if extra and (rolled is None or max(extra.values()) >= 2**40):
            merged = dict(extra)  # exact big-integer sums in Python
            if rolled is not None:
                for key in zip(*(rolled[c].to_pylist() for c in cls.COLUMNS), strict=True):
                    merged[key[:3]] = merged.get(key[:3], 0) + key[3]
            rolled = pa.table(
                {
                    "post_id": pa.array([k[0] for k in merged], pa.int64()),
                    "metric": pa.array([k[1] for k in merged], pa.int16()),
                    "hour": pa.array([k[2] for k in merged], pa.int32()),
                    "count": pa.array([min(n, MAX_COUNT) for n in merged.values()], pa.int64()),
                }
            )
        elif extra:
            rolled = (
                pa.concat_tables([rolled, cls.combine(None, extra).table])
                .group_by(["post_id", "metric", "hour"])
                .aggregate([("count", "sum")])
                .rename_columns(list(cls.COLUMNS))
            )
        if rolled is None:
            return cls()
        return cls(rolled.sort_by([(c, "ascending") for c in cls.COLUMNS[:3]]))

    def __len__(self) -> int:
        return self.table.num_rows

    def rows(self):
        return zip(*(self.table[c].to_pylist() for c in self.COLUMNS), strict=True)

    def totals(self):
        """(post_id, metric, count) summed over hours, saturating."""
        table = self.table
        if len(table) and pc.max(table["count"]).as_py() >= 2**40:
            sums: dict[tuple[int, int], int] = {}
            for post_id, metric, _hour, count in self.rows():
                sums[post_id, metric] = sums.get((post_id, metric), 0) + count
            return [(p, m, min(n, MAX_COUNT)) for (p, m), n in sums.items()]
        grouped = table.group_by(["post_id", "metric"]).aggregate([("count", "sum")])
        return zip(
            *(grouped[c].to_pylist() for c in ("post_id", "metric", "count_sum")), strict=True
        )

    def latest_hour(self) -> int | None:
        return pc.max(self.table["hour"]).as_py() if len(self.table) else None


@dataclass(slots=True)
class Batch:
    """One unit of ingest: applied whole, at most once (by `key`)."""

    key: str
    users: dict[int, str] = field(default_factory=dict)  # user id -> handle
    posts: dict[int, Post] = field(default_factory=dict)  # full new state of each post
    hourly: HourlyCounts = field(default_factory=HourlyCounts)
    records: int = 0


class Reads(Protocol):
    """What answering the engagement endpoints reads: the stores and a worker's memory of them
    (`store.cached.CachedReads`) both provide it."""

    def data_version(self) -> int:
        """A number every applied batch changes."""
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
        """The latest hour holding any ingested event."""
        ...

    def read_counts_since(
        self, post_ids: Sequence[int], metric_codes: Sequence[int], from_hour: int
    ) -> dict[tuple[int, int], int]:
        """Counts per (post, metric) of the hours from `from_hour` on."""
        ...

    def read_video_counts_since(self, video_ids: Iterable[str], from_hour: int) -> dict[str, int]:
        """Video views per video, over every post carrying it, of the hours from `from_hour` on."""
        ...


class SchemaError(RuntimeError):
    """The database holds a schema this version does not know."""


class Store(Reads, ABC):
    """Everything the server, ingest and the command line keep."""

    url: str
    secrets: SecretBox  # opens the consumer and token secrets, which are kept encrypted

    # -- ingest ------------------------------------------------------------------------
    @abstractmethod
    def apply_batch(self, batch: Batch) -> bool:
        """Apply the batch in one transaction; False (and no change) if its key was applied."""

    @abstractmethod
    def batch_applied(self, key: str) -> bool: ...

    # -- reads for the endpoints --------------------------------------------------------
    @abstractmethod
    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]: ...

    @abstractmethod
    def read_totals(
        self, post_ids: Sequence[int], metric_codes: Sequence[int]
    ) -> dict[tuple[int, int], int]:
        """All-time counts per (post, metric); absent pairs are zero."""

    @abstractmethod
    def read_video_totals(self, video_ids: Iterable[str]) -> dict[str, int]:
        """All-time video views per video, summed over every post carrying it."""

    @abstractmethod
    def read_hourly(
        self, post_ids: Sequence[int], metric_codes: Sequence[int], start_hour: int, end_hour: int
    ) -> list[tuple[int, int, int, int]]:
        """(post, metric, hour, count) rows with start_hour <= hour < end_hour."""

    @abstractmethod
    def recent_posts(self, limit: int, author_id: int | None = None) -> list[Post]:
        """The newest posts by id (snowflakes grow with time), optionally of one author."""

    @abstractmethod
    def latest_event_hour(self) -> int | None:
        """The latest hour holding any ingested event (kept up to date by apply_batch)."""

    @abstractmethod
    def data_version(self) -> int:
        """A number every applied batch changes (what server workers remember is keyed by it)."""

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
    def read_counts_since(
        self, post_ids: Sequence[int], metric_codes: Sequence[int], from_hour: int
    ) -> dict[tuple[int, int], int]:
        """Counts per (post, metric) of the hours from `from_hour` on."""

    @abstractmethod
    def read_video_counts_since(self, video_ids: Iterable[str], from_hour: int) -> dict[str, int]:
        """Video views per video, over every post carrying it, of the hours from `from_hour` on."""

    # -- users, apps, tokens -------------------------------------------------------------
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
    def record_handle(self, app_id: int, month: str, user_id: int, now: int) -> int | None:
        """Note a user's @handle queried by the app in `month` ("YYYY-MM"): the app's count of
        unique handles that month when the user is new to it, else None."""

    @abstractmethod
    def handle_usage(self, month: str, app_id: int | None = None) -> dict[int, list[str]]:
        """App id -> the @handles it queried in `month`, sorted."""

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

    # -- bookkeeping ---------------------------------------------------------------------
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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
