"""One merged answer for any number of posts and windows, and what can be made of it: the
API's own shape, rows, top posts, engagement rates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from . import export
from .api import (
    END_KEY,
    ENGAGEMENT_TYPE,
    ERRORS_KEY,
    PARTIAL_KEYS,
    START_KEY,
    TWEET_ID,
    UNAVAILABLE_KEY,
    UNSUPPORTED_IMPRESSIONS_KEY,
    UNSUPPORTED_VIDEO_KEY,
)
from .groupings import COLUMN_OF, columns
from .merge import PartialLists, Tree, add_into, add_tree
from .top import TopPosts


@dataclass
class Stats:
    requests: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    waits: int = 0  # pauses for the allowance (429, x-per-minute-remaining at 0)
    waited: float = 0.0  # seconds of those pauses and of backoff
    splits: int = 0  # extra requests made to find protected posts
    resent: int = 0  # requests sent again without forbidden posts

    def add(self, other: Stats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Result:
    """The answer to one call, as if the API had answered every id in one request.

    `data` holds each grouping as a tree with integer counts; `answer()` gives the API's own
    shape (string counts, the partial lists, `errors`). Posts the API will not serve at all
    are listed in `protected_tweet_ids` (found by splitting the batches that answered 400)
    and `forbidden_tweet_ids` (other users' posts left out on a 403, with
    `drop_forbidden=True`).
    """

    endpoint: str
    types: tuple[str, ...]
    groupings: dict[str, tuple[str, ...]]
    ids: list[str] = field(default_factory=list)
    data: dict[str, Tree] = field(default_factory=dict)
    start: str | None = None
    end: str | None = None
    partial: PartialLists = field(default_factory=PartialLists)
    protected: dict[str, None] = field(default_factory=dict)
    forbidden: dict[str, None] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    served: int | None = None  # ids answered by the batches merged in (None: by this one)

    def __post_init__(self) -> None:
        for name in self.groupings:
            self.data.setdefault(name, {})

    # -- building ----------------------------------------------------------------------------
    def add_answer(self, answer: dict) -> None:
        """Add one 200 answer of the API."""
        for name in self.groupings:
            node = answer.get(name)
            if node:
                add_into(self.data[name], node)
        self.partial.add(answer)
        self._span(answer.get(START_KEY), answer.get(END_KEY))

    def merge(self, other: Result) -> None:
        """Add another result (a batch of other posts) into this one."""
        self.served = (self.served or 0) + other.answered
        for name in self.groupings:
            add_tree(self.data[name], other.data.get(name, {}))
        self.partial.merge(other.partial)
        self.protected.update(other.protected)
        self.forbidden.update(other.forbidden)
        self._span(other.start, other.end)
        self.stats.add(other.stats)

    def _span(self, start: str | None, end: str | None) -> None:
        # Instants come as YYYY-MM-DDTHH:MM:SSZ: their text order is their time order.
        if start and (self.start is None or start < self.start):
            self.start = start
        if end and (self.end is None or end > self.end):
            self.end = end

    # -- the partial lists ---------------------------------------------------------------------
    def _in_request_order(self, ids) -> list[str]:
        """Batches finish in any order; lists are given in the order the ids were asked."""
        rank = self._rank
        return sorted(ids, key=lambda tweet_id: rank.get(tweet_id, len(rank)))

    @cached_property
    def _rank(self) -> dict[str, int]:
        return {tweet_id: n for n, tweet_id in enumerate(self.ids)}

    def partial_ids(self, key: str) -> list[str]:
        return self._in_request_order(self.partial.lists[key])

    @property
    def unavailable_tweet_ids(self) -> list[str]:
        return self.partial_ids(UNAVAILABLE_KEY)

    @property
    def unsupported_for_impressions_engagements_tweet_ids(self) -> list[str]:
        return self.partial_ids(UNSUPPORTED_IMPRESSIONS_KEY)

    @property
    def unsupported_for_video_views_tweet_ids(self) -> list[str]:
        return self.partial_ids(UNSUPPORTED_VIDEO_KEY)

    @property
    def errors(self) -> list[str]:
        return self.partial.errors()

    @property
    def protected_tweet_ids(self) -> list[str]:
        return self._in_request_order(self.protected)

    @property
    def forbidden_tweet_ids(self) -> list[str]:
        return self._in_request_order(self.forbidden)

    @property
    def answered(self) -> int:
        """Ids asked that the API served (some metrics of an unsupported post included); of
        a result cut short by an error, those of the batches completed."""
        if self.served is not None:
            return self.served
        refused = set(self.unavailable_tweet_ids) | self.protected.keys() | self.forbidden.keys()
        return sum(1 for tweet_id in self.ids if tweet_id not in refused)

    def answer(self) -> dict[str, Any]:
        """The API's own shape: each grouping by name with string counts, `start` and `end`
        where the endpoint has them, and the partial lists and `errors` when not empty."""
        document: dict[str, Any] = {}
        if self.start is not None:
            document[START_KEY] = self.start
            document[END_KEY] = self.end
        for key in PARTIAL_KEYS:
            if self.partial.lists[key]:
                document[key] = self.partial_ids(key)
        if self.errors:
            document[ERRORS_KEY] = self.errors
        for name, levels in self.groupings.items():
            document[name] = _strings(self.data[name], self._orderings(levels), 0)
        return document

    # -- rows --------------------------------------------------------------------------------
    def grouping(self, name: str | None = None) -> str:
        if name is None:
            return next(iter(self.groupings))
        if name not in self.groupings:
            raise KeyError(f"no grouping {name!r} (there are: {', '.join(self.groupings)})")
        return name

    def columns(self, grouping: str | None = None) -> tuple[str, ...]:
        return columns(self.groupings[self.grouping(grouping)])

    def rows(self, grouping: str | None = None) -> Iterator[dict[str, Any]]:
        """One dict per leaf of a grouping (the first unless named): `tweet_id`, `metric`,
        `day`, `hour` where the grouping has them, and `count` as an integer."""
        name = self.grouping(grouping)
        cols = self.columns(name)
        for values in self.tuples(name):
            yield dict(zip(cols, values, strict=True))

    def tuples(self, grouping: str | None = None) -> Iterator[tuple]:
        """The rows as tuples in the order of `columns()`."""
        name = self.grouping(grouping)
        levels = self.groupings[name]
        cols = columns(levels)
        place = [cols.index(COLUMN_OF[level]) for level in levels]
        hour_at = cols.index("hour") if "hour" in cols else -1
        row: list[Any] = [None] * len(cols)
        count_at = len(cols) - 1

        order = self._orderings(levels)

        def walk(node: Tree, depth: int) -> Iterator[tuple]:
            where = place[depth]
            last = depth == len(levels) - 1
            for key, value in order[depth](node):
                row[where] = int(key) if where == hour_at else key
                if last:
                    row[count_at] = value
                    yield tuple(row)
                else:
                    yield from walk(value, depth + 1)

        yield from walk(self.data[name], 0)

    def _orderings(self, levels: tuple[str, ...]) -> list:
        """How each level's keys are listed: posts in request order, metrics in the order
        asked, days and hours in time order (batches and windows arrive in any order)."""
        by_id = self._rank
        by_type = {metric: n for n, metric in enumerate(self.types)}

        def ranked(rank: dict[str, int]):
            return lambda node: sorted(node.items(), key=lambda kv: rank.get(kv[0], len(rank)))

        def timely(node: Tree):
            return sorted(node.items())

        chosen = {TWEET_ID: ranked(by_id), ENGAGEMENT_TYPE: ranked(by_type)}
        return [chosen.get(level, timely) for level in levels]

    def to_csv(self, target: Any, grouping: str | None = None) -> int:
        return export.write_csv(target, self.columns(grouping), self.tuples(grouping))

    def to_jsonl(self, target: Any, grouping: str | None = None) -> int:
        return export.write_jsonl(target, self.columns(grouping), self.tuples(grouping))

    def to_arrow(self, grouping: str | None = None):
        """A pyarrow Table (day as a date, hour as int8, count as int64)."""
        return export.arrow_table(self.columns(grouping), self.tuples(grouping))

    def to_parquet(self, target: Any, grouping: str | None = None) -> int:
        return export.write_parquet(target, self.to_arrow(grouping))

    def to_pandas(self, grouping: str | None = None):
        """A pandas DataFrame (needs pandas)."""
        return export.to_pandas(self.to_arrow(grouping))

    def to_polars(self, grouping: str | None = None):
        """A polars DataFrame (needs polars)."""
        return export.to_polars(self.to_arrow(grouping))

    # -- analysis ----------------------------------------------------------------------------
    def per_post(self, grouping: str | None = None) -> dict[str, dict[str, int]]:
        """tweet id -> metric -> count, time levels summed, from a grouping with both
        `tweet.id` and `engagement.type` (the first such unless named)."""
        name = grouping or next(
            (n for n, lv in self.groupings.items() if TWEET_ID in lv and ENGAGEMENT_TYPE in lv),
            None,
        )
        if name is None or not {TWEET_ID, ENGAGEMENT_TYPE} <= set(self.groupings[name]):
            raise ValueError("needs a grouping by tweet.id and engagement.type")
        if self.groupings[name] == (TWEET_ID, ENGAGEMENT_TYPE):  # the common case, directly
            return self.data[name]
        cols = columns(self.groupings[name])
        at_id, at_metric = cols.index("tweet_id"), cols.index("metric")
        totals: dict[str, dict[str, int]] = {}
        for row in self.tuples(name):
            metrics = totals.setdefault(row[at_id], {})
            metrics[row[at_metric]] = metrics.get(row[at_metric], 0) + row[-1]
        return totals

    def top(self, metric: str, n: int = 10, grouping: str | None = None) -> list[tuple[str, int]]:
        """The `n` posts with the highest `metric`, as (tweet id, count), highest first; ties
        keep request order, posts with 0 are left out."""
        if metric not in self.types:
            raise ValueError(f"{metric} was not asked (asked: {', '.join(self.types)})")
        tracker = TopPosts(n, [metric])
        tracker.add(self.per_post(grouping))
        return tracker.top(metric)

    def totals(self, grouping: str | None = None) -> dict[str, int]:
        """metric -> count over every post."""
        summed = dict.fromkeys(self.types, 0)
        for metrics in self.per_post(grouping).values():
            for metric, count in metrics.items():
                summed[metric] += count
        return summed

    def engagement_rate(self, grouping: str | None = None) -> dict[str, float | None]:
        """tweet id -> engagements / impressions (None where impressions are 0), for posts
        with both figures."""
        if not {"engagements", "impressions"} <= set(self.types):
            raise ValueError("engagement_rate needs both engagements and impressions")
        rates: dict[str, float | None] = {}
        for tweet_id, metrics in self.per_post(grouping).items():
            if "impressions" in metrics and "engagements" in metrics:
                views = metrics["impressions"]
                rates[tweet_id] = metrics["engagements"] / views if views else None
        return rates

    def overall_engagement_rate(self) -> float | None:
        """All engagements / all impressions of the posts with both figures."""
        per_post = self.per_post()
        both = [m for m in per_post.values() if "impressions" in m and "engagements" in m]
        views = sum(m["impressions"] for m in both)
        return sum(m["engagements"] for m in both) / views if views else None

    def summary(self) -> dict[str, int]:
        return {
            "ids": len(self.ids),
            "answered": self.answered,
            "unavailable": len(self.partial.lists[UNAVAILABLE_KEY]),
            "unsupported_impressions_engagements": len(
                self.partial.lists[UNSUPPORTED_IMPRESSIONS_KEY]
            ),
            "unsupported_video_views": len(self.partial.lists[UNSUPPORTED_VIDEO_KEY]),
            "protected": len(self.protected),
            "forbidden": len(self.forbidden),
            "requests": self.stats.requests,
            "retries": self.stats.retries,
            "waits": self.stats.waits,
        }


def _strings(node: Tree, order: list, depth: int) -> dict:
    return {
        k: _strings(v, order, depth + 1) if type(v) is dict else str(v)
        for k, v in order[depth](node)
    }
