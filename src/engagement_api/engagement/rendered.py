"""A worker's memory of answers already written, post by post: a request whose every grouping
starts with `tweet.id` is then answered by joining remembered bytes.

Under a grouping that starts with `tweet.id`, what is written for a post depends only on that
post's own counts, so it can be kept as its JSON member, `"<id>":{...}`, exactly as the
general answer writes it, per endpoint, window, levels and metrics. A post is remembered when
it is available, not protected and not too old for any of the metrics. A request whose every
post is remembered, and owned by the user when there is one, needs no other work; any other
request takes the general path, which is the reference (tests compare the two byte for byte).
What is remembered is forgotten with the reads it was made from (their generation), and a
post leaves as soon as it becomes too old for one of the metrics.
"""

from __future__ import annotations

import heapq
import math

import orjson

from .. import spec
from ..auth import Principal
from ..query import Grouping, Query
from ..shape import shape
from ..store.cached import CachedReads
from ..times import format_instant
from .answer import available_posts
from .served import age_limit, has_events_after, served_table

MAX_BYTES = 256 * 2**20  # remembered member bytes per worker, over every kind of answer


class _Members:
    """The remembered members of one kind of answer: endpoint, window, levels and metrics."""

    __slots__ = ("expiry", "max_age", "members")

    def __init__(self, query: Query) -> None:
        ages = [a for m in query.metrics if (a := age_limit(m, query.endpoint)) is not None]
        self.max_age = min(ages) if ages else None  # seconds; the strictest rule that applies
        self.members: dict[str, bytes] = {}
        self.expiry: list[tuple[int, str]] = []  # (created_ms, key): oldest first

    def expire(self, now: float) -> None:
        """Drop members too old at `now` for one of the metrics (`served.too_old`)."""
        if self.max_age is None:
            return
        limit = (now - self.max_age) * 1000
        expiry = self.expiry
        while expiry and expiry[0][0] < limit:
            self.members.pop(heapq.heappop(expiry)[1], None)


class RenderedMembers:
    def __init__(self, reads: CachedReads, max_bytes: int = MAX_BYTES) -> None:
        self._reads = reads
        self._max = max_bytes
        self._forget()

    def answer(self, query: Query, principal: Principal, now: float) -> bytes | None:
        """The answer from remembered members, or None: then the general path answers."""
        if any(g.levels[0] != spec.TWEET_ID for g in query.groupings):
            return None
        if self._generation != self._reads.generation or now < self._latest_now:
            self._forget()  # new data, or a clock moved back past what was remembered
        if query.window is None and has_events_after(self._reads, now):
            return None  # totals then depend on now: see served.totals_rows
        self._latest_now = now
        keys = query.keys
        body: dict = {}
        if query.window is not None:
            body[spec.START_KEY] = format_instant(query.window.start)
            body[spec.END_KEY] = format_instant(query.window.end)
        for grouping in query.groupings:
            members = self._members(query, grouping, now)
            found = list(map(members.members.get, keys))
            if None in found:
                if not self._remember(members, query, grouping, now):
                    return None
                found = list(map(members.members.get, keys))
                if None in found:
                    return None  # unavailable, protected or too old: lists to write
            body[grouping.name] = orjson.Fragment(b"{" + b",".join(found) + b"}")
        if principal.user_id is not None and set(map(self._authors.__getitem__, keys)) != {
            principal.user_id
        }:
            return None  # another user's posts: the general path says which
        return orjson.dumps(body)

    def _members(self, query: Query, grouping: Grouping, now: float) -> _Members:
        window = (query.window.start, query.window.end) if query.window else None
        kind = (query.endpoint.name, window, grouping.levels, query.metrics_key)
        members = self._kinds.get(kind)
        if members is None:
            members = self._kinds[kind] = _Members(query)
        members.expire(now)
        return members

    def _remember(self, members: _Members, query: Query, grouping: Grouping, now: float) -> bool:
        """Write the members of the request's posts that can be remembered; False when there
        is no room left."""
        reads = self._reads
        missing = [int(key) for key in query.keys if key not in members.members]
        available, _ = available_posts(reads, missing, now)
        limit = -math.inf if members.max_age is None else (now - members.max_age) * 1000
        posts = [p for p in available if not p.protected and p.created_ms >= limit]
        if not posts:
            return True
        written = shape(grouping.levels, served_table(reads, query, posts, {}, now))
        size = 0
        for post in posts:
            key = str(post.id)
            member = orjson.dumps({key: written[key]})[1:-1]
            members.members[key] = member
            self._authors[key] = post.author_id
            size += len(member)
            if members.max_age is not None:
                heapq.heappush(members.expiry, (post.created_ms, key))
        self._size += size
        if self._size > self._max:
            self._forget()
            return False
        return True

    def _forget(self) -> None:
        self._kinds: dict[tuple, _Members] = {}
        self._authors: dict[str, int] = {}
        self._size = 0
        self._generation = self._reads.generation
        self._latest_now = -math.inf
