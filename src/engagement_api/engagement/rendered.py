"""A worker's memory of /totals answers already written, per post: the common request (every
grouping `[tweet.id, engagement.type]`) is then answered by joining remembered bytes.

For each set of metrics, a post that is available, not protected and not too old for any of
them is remembered as its JSON member, `"<id>":{"<metric>":"<count>",...}`, exactly as the
general answer writes it. A request whose every post is remembered, and owned by the user when
there is one, needs no other work; any other request takes the general path, which is the
reference (tests compare the two byte for byte). What is remembered is forgotten with the
reads it was made from (their generation), and a post leaves as soon as it becomes too old.
"""

from __future__ import annotations

import heapq
import math

import orjson

from .. import spec
from ..auth import Principal
from ..query import Query
from ..store.cached import CachedReads
from .answer import available_posts
from .served import has_events_after, totals_rows

MAX_MEMBERS = 200_000  # remembered members per worker, over every metric set
_PER_POST = (spec.TWEET_ID, spec.ENGAGEMENT_TYPE)


class _MetricSet:
    """The remembered members of one set of metrics."""

    __slots__ = ("authors", "expiry", "max_age", "members")

    def __init__(self, query: Query) -> None:
        ages = [m.max_age_days for m in query.metrics if m.max_age_days is not None]
        self.max_age = min(ages) * spec.DAY if ages else None  # seconds; /totals applies all
        self.members: dict[str, bytes] = {}
        self.authors: dict[str, int] = {}
        self.expiry: list[tuple[int, str]] = []  # (created_ms, key): oldest first

    def expire(self, now: float) -> None:
        """Drop members too old at `now` for one of the metrics (`served.too_old`)."""
        if self.max_age is None:
            return
        limit = (now - self.max_age) * 1000
        expiry = self.expiry
        while expiry and expiry[0][0] < limit:
            _, key = heapq.heappop(expiry)
            self.members.pop(key, None)
            self.authors.pop(key, None)


class RenderedTotals:
    def __init__(self, reads: CachedReads, max_members: int = MAX_MEMBERS) -> None:
        self._reads = reads
        self._max = max_members
        self._sets: dict[tuple[str, ...], _MetricSet] = {}
        self._forget()

    def answer(self, query: Query, principal: Principal, now: float) -> bytes | None:
        """The answer from remembered members, or None: then the general path answers."""
        if query.window is not None or any(g.levels != _PER_POST for g in query.groupings):
            return None
        if self._generation != self._reads.generation or now < self._latest_now:
            self._forget()  # new data, or a clock moved back past what was remembered
        if has_events_after(self._reads, now):
            return None  # totals then depend on now: see served.totals_rows
        self._latest_now = now
        metric_set = self._sets.get(query.metrics_key)
        if metric_set is None:
            metric_set = self._sets[query.metrics_key] = _MetricSet(query)
        metric_set.expire(now)
        members = list(map(metric_set.members.get, query.keys))
        if None in members:
            if not self._remember(metric_set, query, now):
                return None
            members = list(map(metric_set.members.get, query.keys))
            if None in members:
                return None
        if principal.user_id is not None and set(
            map(metric_set.authors.__getitem__, query.keys)
        ) != {principal.user_id}:
            return None  # another user's posts: the general path says which
        joined = orjson.Fragment(b"{" + b",".join(members) + b"}")
        return orjson.dumps({g.name: joined for g in query.groupings})

    def _remember(self, metric_set: _MetricSet, query: Query, now: float) -> bool:
        """Write the members of the request's posts that can be remembered; False when there
        is no room left."""
        reads = self._reads
        missing = [int(key) for key in query.keys if key not in metric_set.members]
        available, _ = available_posts(reads, missing, now)
        limit = -math.inf if metric_set.max_age is None else (now - metric_set.max_age) * 1000
        posts = [p for p in available if not p.protected and p.created_ms >= limit]
        if not posts:
            return True
        if self._size + len(posts) > self._max:
            self._forget()
            return False
        names = query.metrics_key
        rows = totals_rows(reads, posts, query.metrics, now)
        for post, row in zip(posts, rows, strict=True):
            key = str(post.id)
            metric_set.members[key] = orjson.dumps(
                {key: dict(zip(names, map(str, row), strict=True))}
            )[1:-1]
            metric_set.authors[key] = post.author_id
            if metric_set.max_age is not None:
                heapq.heappush(metric_set.expiry, (post.created_ms, key))
        self._size += len(posts)
        return True

    def _forget(self) -> None:
        self._sets.clear()
        self._size = 0
        self._generation = self._reads.generation
        self._latest_now = -math.inf
