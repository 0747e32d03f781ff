"""What is served for the available posts of a query: counts per (post, metric) as a table.

/totals reads the kept all-time totals (RULES.md 6: up to now); the time-series endpoints read
the hourly rows of the window. Pairs a post is too old for are not served (section 7).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import spec
from ..query import Query
from ..shape import Table, timeline
from ..spec import Metric
from ..store import Post, Reads

_CODE_INDEX_SIZE = max(m.code for m in spec.METRICS) + 1


def too_old(metric: Metric, endpoint: spec.Endpoint, post: Post, now: float) -> bool:
    """Whether `metric` is unsupported for `post` at `now` (the 90 and 1800-day rules)."""
    cutoff = age_cutoff(metric, endpoint, now)
    return cutoff is not None and post.created_ms < cutoff * 1000


def age_limit(metric: Metric, endpoint: spec.Endpoint) -> int | None:
    """Seconds of age past which posts are too old for `metric` on `endpoint`, if any."""
    if metric.max_age_days is None:
        return None
    if metric.age_rule_on_totals_only and endpoint is not spec.TOTALS:
        return None
    return metric.max_age_days * spec.DAY


def age_cutoff(metric: Metric, endpoint: spec.Endpoint, now: float) -> float | None:
    """The instant before which posts are too old for `metric` on `endpoint`, if any."""
    limit = age_limit(metric, endpoint)
    return None if limit is None else now - limit


def served_table(
    reads: Reads, query: Query, available: Sequence[Post], unsupported: dict[str, set[int]], now
) -> Table:
    """The table of the available posts; `unsupported`: metric name -> post ids too old."""
    posts = [str(post.id) for post in available]
    metrics = [m.name for m in query.metrics]
    served = np.ones((len(available), len(metrics)), dtype=bool)
    for j, metric in enumerate(query.metrics):
        old = unsupported.get(metric.name)
        if old:
            served[:, j] = [post.id not in old for post in available]
    if query.window is None:
        counts = np.array(totals_rows(reads, available, query.metrics, now), dtype=np.int64)
        counts = counts.reshape(len(available), len(metrics))
        line = None
    else:
        counts = series_counts(reads, query, available)
        line = timeline(query.window.start, query.window.end)
    if not served.all():
        counts[~served] = 0
    largest = int(counts.max()) if counts.size else 0
    return Table(posts, metrics, counts, served, line, largest).kept()


def totals_rows(
    reads: Reads, posts: Sequence[Post], metrics: Sequence[Metric], now: float
) -> list[list[int]]:
    """All-time totals as kept, less any events stored for hours after the current one.

    Such events exist only when the clock is set before data already ingested; the kept
    totals are then corrected from the hourly rows (RULES.md section 6: up to now).
    """
    post_ids = [p.id for p in posts]
    codes = [m.code for m in metrics]
    video_column = codes.index(spec.VIDEO_VIEWS.code) if spec.VIDEO_VIEWS.code in codes else None
    video_ids = [p.video_id for p in posts if p.video_id] if video_column is not None else []
    totals = reads.read_totals(post_ids, codes)
    videos = reads.read_video_totals(video_ids) if video_ids else {}
    if has_events_after(reads, now):
        next_hour = int(now // spec.HOUR) + 1
        totals = dict(totals)
        for key, later in reads.read_counts_since(post_ids, codes, next_hour).items():
            totals[key] -= later
        if video_ids:
            videos = dict(videos)
            for video, later in reads.read_video_counts_since(video_ids, next_hour).items():
                videos[video] -= later
    count_of = totals.get
    rows = [[count_of((post_id, code), 0) for code in codes] for post_id in post_ids]
    if video_ids:  # /totals sums a video's views over every post that carries it
        for post, row in zip(posts, rows, strict=True):
            if post.video_id:
                row[video_column] = videos.get(post.video_id, 0)
    return rows


def has_events_after(reads: Reads, now: float) -> bool:
    """Whether the store holds events of hours after the one containing `now`."""
    latest = reads.latest_event_hour()
    return latest is not None and latest >= int(now // spec.HOUR) + 1


def series_counts(reads: Reads, query: Query, posts: Sequence[Post]) -> np.ndarray:
    """(posts, metrics, hours of the window) counts from the hourly rows."""
    window = query.window
    first_hour = window.start // spec.HOUR
    size = window.hours
    codes = [m.code for m in query.metrics]
    counts = np.zeros((len(posts), len(codes), size), dtype=np.int64)
    rows = reads.read_hourly([p.id for p in posts], codes, first_hour, first_hour + size)
    if rows:
        columns = np.array(rows, dtype=np.int64).T  # post_id, metric, hour, count
        row_of = {p.id: i for i, p in enumerate(posts)}
        column_of = np.full(_CODE_INDEX_SIZE, -1, dtype=np.intp)
        column_of[codes] = np.arange(len(codes))
        post_index = np.fromiter((row_of[p] for p in columns[0].tolist()), np.intp, len(rows))
        counts[post_index, column_of[columns[1]], columns[2] - first_hour] = columns[3]
    # favorites, replies and retweets read zero before 2015-09-15 (003).
    zero_until = min(max((spec.ZERO_BEFORE - window.start) // spec.HOUR, 0), size)
    if zero_until:
        for j, metric in enumerate(query.metrics):
            if metric.zero_before_2015_09_15:
                counts[:, j, :zero_until] = 0
    return counts
