"""The records the stores speak in: posts, users, apps, tokens, and ingest's batches of
rolled-up hourly counts. Times are integers: posts' creation in ms, event hours as epoch hours
(seconds // 3600), everything else in epoch seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

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
