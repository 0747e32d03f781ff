"""A server worker's memory of what `/totals` reads most: posts and their all-time totals.

Kept per process, and forgotten whole whenever a batch commits anywhere: the store's data
version is read before anything else on every request, so a remembered value is never older
than the version it is kept under. A value read just after a newer commit may be remembered
under the older version; the next request sees the new version and forgets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..spec import METRICS
from .base import Post, Store

MAX_POSTS = 100_000  # remembered posts per worker (about 50 MB); then start again
_ALL_CODES = tuple(m.code for m in METRICS)
_WIDTH = max(_ALL_CODES) + 1


class CachedReads:
    """The store's read methods, with posts, totals and the latest event hour remembered."""

    def __init__(self, store: Store, max_posts: int = MAX_POSTS) -> None:
        self._store = store
        self._max_posts = max_posts
        self._version: int | None = None
        self._forget()

    def fresh(self) -> CachedReads:
        """Check the data version (once per request) and forget everything if it moved."""
        version = self._store.data_version()
        if version != self._version:
            self._forget()
            self._version = version
        return self

    def __getattr__(self, name: str):  # every read not remembered goes to the store
        return getattr(self._store, name)

    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        ids = list(ids)
        missing = [i for i in ids if i not in self._posts]
        if missing:
            self._make_room(len(missing))
            found = self._store.get_posts(missing)
            self._posts.update((i, found.get(i)) for i in missing)  # None: not stored
        posts = self._posts
        return {i: post for i in ids if (post := posts[i]) is not None}

    def read_totals(
        self, post_ids: Sequence[int], metric_codes: Sequence[int]
    ) -> dict[tuple[int, int], int]:
        missing = [p for p in dict.fromkeys(post_ids) if p not in self._totals]
        if missing:
            self._make_room(len(missing))
            for post_id in missing:
                self._totals[post_id] = [None] * _WIDTH
            for (post_id, code), count in self._store.read_totals(missing, _ALL_CODES).items():
                self._totals[post_id][code] = count
        totals = self._totals
        return {
            (post_id, code): count
            for post_id in post_ids
            for code in metric_codes
            if (count := totals[post_id][code]) is not None
        }

    def latest_event_hour(self) -> int | None:
        if self._latest_hour is _UNKNOWN:
            self._latest_hour = self._store.latest_event_hour()
        return self._latest_hour

    def _make_room(self, more: int) -> None:
        if max(len(self._posts), len(self._totals)) + more > self._max_posts:
            self._forget()

    def _forget(self) -> None:
        self._posts: dict[int, Post | None] = {}
        self._totals: dict[int, list[int | None]] = {}
        self._latest_hour: object = _UNKNOWN


_UNKNOWN = object()
