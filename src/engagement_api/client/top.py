"""Top posts per metric, kept in constant memory while answers stream in (what the Ruby
sample client's 'Top Tweets' does, for any number of posts)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping


class TopPosts:
    """The `n` posts with the highest count of each metric. Ties keep the post seen first;
    posts with a count of 0 are never top posts."""

    def __init__(self, n: int, metrics: Iterable[str]) -> None:
        if n < 1:
            raise ValueError("n must be at least 1")
        self.n = n
        self.metrics = tuple(metrics)
        self.totals: dict[str, int] = dict.fromkeys(self.metrics, 0)
        self._heaps: dict[str, list[tuple[int, int, str]]] = {m: [] for m in self.metrics}
        self._seen = itertools.count()

    def add(self, per_post: Mapping[str, Mapping[str, int]]) -> None:
        """Posts' counts: tweet id -> metric -> count."""
        heaps, totals, n = self._heaps, self.totals, self.n
        for tweet_id, by_metric in per_post.items():
            order = -next(self._seen)  # earlier posts rank higher among equals
            for metric, count in by_metric.items():
                heap = heaps.get(metric)
                if heap is None or count <= 0:
                    continue
                totals[metric] += count
                entry = (count, order, tweet_id)
                if len(heap) < n:
                    heapq.heappush(heap, entry)
                elif entry > heap[0]:
                    heapq.heapreplace(heap, entry)

    def top(self, metric: str) -> list[tuple[str, int]]:
        """(tweet id, count), highest first."""
        if metric not in self._heaps:
            raise KeyError(f"{metric} is not tracked (tracked: {', '.join(self.metrics)})")
        return [(tid, count) for count, _, tid in sorted(self._heaps[metric], reverse=True)]
