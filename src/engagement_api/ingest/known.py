"""The posts one ingest has met, so that each chunk need not ask the store for them again.

Two layers:

- the full posts of the last few prepared chunks: they may not be committed yet, so the store
  cannot answer for them (ingest prepares a chunk while the one before is being committed);
- a compact sorted index, post id -> created_ms, for the column path, which only needs to know
  that a post exists and when it was created. It is bounded (16 bytes a post, `INDEX_LIMIT`
  posts), so memory stays flat however many posts an input names; past the bound it starts
  again from the newest chunk and asks the store for the rest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np

from ..store import Post, Store

INDEX_LIMIT = 4_000_000  # 64 MiB of index at most
# A chunk being prepared, one waiting in the queue, one being committed: at most the two
# before the one being prepared can be uncommitted; one more for safety.
RECENT_CHUNKS = 3


class KnownPosts:
    def __init__(self, store: Store, limit: int | None = None) -> None:
        self._store = store
        self._limit = limit or INDEX_LIMIT
        self._recent: deque[dict[int, Post]] = deque(maxlen=RECENT_CHUNKS)
        self._ids = np.empty(0, dtype=np.int64)  # sorted
        self._created = np.empty(0, dtype=np.int64)

    def posts(self, ids: Iterable[int]) -> dict[int, Post]:
        """Full posts (for the record path): the newest recent chunk first, then the store."""
        wanted = set(ids)
        found: dict[int, Post] = {}
        for chunk in reversed(self._recent):
            for post_id in wanted.intersection(chunk):
                found.setdefault(post_id, chunk[post_id])
        rest = wanted.difference(found)
        if rest:
            found.update(self._store.get_posts(rest))
        return found

    def created_ms(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(known, created_ms) for sorted unique `ids`; asks only for ids the index lacks."""
        known, created = self._lookup(ids)
        missing = np.flatnonzero(~known)
        if len(missing):
            fetched = self.posts(ids[missing].tolist())
            if fetched:
                self._index(fetched.values())  # may start the index again: look up `missing` only
                known[missing], created[missing] = self._lookup(ids[missing])
        return known, created

    def add_chunk(self, posts: dict[int, Post]) -> None:
        """The new state of the posts a prepared chunk writes, to be found before it commits."""
        self._recent.append(posts)
        if posts:
            self._index(posts.values())

    def _lookup(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(self._ids):
            return np.zeros(len(ids), dtype=bool), np.zeros(len(ids), dtype=np.int64)
        at = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
        known = self._ids[at] == ids
        return known, np.where(known, self._created[at], 0)

    def _index(self, posts: Iterable[Post]) -> None:
        """Add or update posts in the index; the new state wins over the old."""
        new = list(posts)
        ids = np.fromiter((p.id for p in new), dtype=np.int64, count=len(new))
        created = np.fromiter((p.created_ms for p in new), dtype=np.int64, count=len(new))
        if len(self._ids) + len(ids) > self._limit:  # start again from these
            all_ids, all_created = ids, created
        else:
            all_ids = np.concatenate([ids, self._ids])
            all_created = np.concatenate([created, self._created])
        self._ids, first = np.unique(all_ids, return_index=True)  # first: the new one
        self._created = all_created[first]
