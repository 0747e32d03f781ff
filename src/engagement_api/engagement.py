"""A typed query and a verified principal -> the answer object (RULES.md sections 7, 8, 9).

The checks after body validation run here, in the documented order: app-only rights (403),
ownership (403), protected posts (400); then the partial-result lists and the groupings.
"""

from __future__ import annotations

from . import spec
from .auth.principal import Principal
from .errors import ApiError
from .query import Query
from .shape import Cells, Timeline, shape
from .spec import Messages, Metric
from .store import Post, Store
from .times import format_instant

_IMPRESSION_METRICS = ("impressions", "engagements")


def answer(store: Store, query: Query, principal: Principal, now: float) -> dict:
    endpoint = query.endpoint
    _check_metric_rights(query, principal)
    posts = {
        post_id: post
        for post_id, post in store.get_posts(query.ids).items()
        if not post.deleted and post.created_ms <= now * 1000  # not yet posted at `now`
    }
    unavailable = [i for i in query.ids if i not in posts]
    available = [posts[i] for i in query.ids if i in posts]
    if principal.user_id is not None:
        foreign = [p.id for p in available if p.author_id != principal.user_id]
        if foreign:
            raise ApiError(403, Messages.FORBIDDEN_TWEETS.format(ids=", ".join(map(str, foreign))))
    if any(p.protected for p in available):
        raise ApiError(400, Messages.PROTECTED)

    body: dict = {}
    if query.window:
        body[spec.START_KEY] = format_instant(query.window.start)
        body[spec.END_KEY] = format_instant(query.window.end)
    errors: list[str] = []
    if unavailable:
        body[spec.UNAVAILABLE_KEY] = [str(i) for i in unavailable]
        errors.append(Messages.UNAVAILABLE.format(n=len(unavailable)))
    unsupported: dict[str, set[int]] = {}  # metric name -> post ids too old for it
    for metric in query.metrics:
        cutoff = _age_cutoff(metric, endpoint, now)
        if cutoff is not None:
            unsupported[metric.name] = {p.id for p in available if p.created_ms < cutoff * 1000}
    for key, names, message, days in (
        (spec.UNSUPPORTED_IMPRESSIONS_KEY, _IMPRESSION_METRICS, Messages.OLD_IMPRESSIONS, 90),
        (spec.UNSUPPORTED_VIDEO_KEY, ("video_views",), Messages.OLD_VIDEO_VIEWS, 1800),
    ):
        old = set().union(*(unsupported.get(n, set()) for n in names))
        if old:
            body[key] = [str(p.id) for p in available if p.id in old]
            errors.append(message.format(cutoff=format_instant(now - days * spec.DAY)))
    if errors:
        body[spec.ERRORS_KEY] = errors

    served = _served(store, query, available, unsupported, now)
    timeline = Timeline.for_window(query.window.start, query.window.end) if query.window else None
    for grouping in query.groupings:
        body[grouping.name] = shape(grouping.levels, served, timeline)
    return body


def _check_metric_rights(query: Query, principal: Principal) -> None:
    if not principal.app_only:
        return
    on_totals = query.endpoint is spec.TOTALS
    refused = [m.name for m in query.metrics if not (on_totals and m.app_only_on_totals)]
    if refused:
        raise ApiError(403, Messages.FORBIDDEN_METRICS.format(metrics=", ".join(refused)))


def _age_cutoff(metric: Metric, endpoint: spec.Endpoint, now: float) -> float | None:
    if metric.max_age_days is None:
        return None
    if metric.age_rule_on_totals_only and endpoint is not spec.TOTALS:
        return None
    return now - metric.max_age_days * spec.DAY


def _served(
    store: Store,
    query: Query,
    available: list[Post],
    unsupported: dict[str, set[int]],
    now: float,
) -> Cells:
    """The served table: a row per available post, a column per metric, None if unsupported."""
    if not available:
        return Cells([], [], [])
    post_ids = [post.id for post in available]
    codes = [m.code for m in query.metrics]
    if query.window is None:
        rows = _totals_rows(store, available, post_ids, codes, now)
    else:
        rows = _series_rows(store, query, post_ids, codes)
    refused = [unsupported.get(m.name, ()) for m in query.metrics]
    if any(refused):
        rows = [
            [None if post_id in old else value for value, old in zip(row, refused, strict=True)]
            for post_id, row in zip(post_ids, rows, strict=True)
        ]
    return Cells.build([str(i) for i in post_ids], [m.name for m in query.metrics], rows)


def _totals_rows(store, posts: list[Post], post_ids, codes, now: float) -> list[list[int]]:
    """All-time totals as kept, less any events stored for hours after the current one.

    Such events exist only when the clock is set before data already ingested; the kept
    totals are then corrected from the hourly rows (RULES.md section 6: up to now).
    """
    video_code = spec.METRIC_BY_NAME["video_views"].code
    video_column = codes.index(video_code) if video_code in codes else None
    video_ids = [p.video_id for p in posts if p.video_id] if video_column is not None else []
    totals = store.read_totals(post_ids, codes)
    videos = store.read_video_totals(video_ids) if video_ids else {}
    next_hour = int(now // spec.HOUR) + 1
    latest = store.latest_event_hour()
    if latest is not None and latest >= next_hour:
        for key, later in store.read_counts_since(post_ids, codes, next_hour).items():
            totals[key] -= later
        if video_ids:
            for video, later in store.read_video_counts_since(video_ids, next_hour).items():
                videos[video] -= later
    count_of = totals.get
    rows = [[count_of((post_id, code), 0) for code in codes] for post_id in post_ids]
    if video_ids:  # /totals sums a video's views over every post that carries it
        for post, row in zip(posts, rows, strict=True):
            if post.video_id:
                row[video_column] = videos.get(post.video_id, 0)
    return rows


def _series_rows(store, query: Query, post_ids, codes) -> list[list[list[int]]]:
    window = query.window
    first_hour = window.start // spec.HOUR
    size = window.hours
    series: dict[tuple[int, int], list[int]] = {}
    for post_id, code, hour, count in store.read_hourly(
        post_ids, codes, first_hour, first_hour + size
    ):
        values = series.get((post_id, code))
        if values is None:
            values = series[post_id, code] = [0] * size
        values[hour - first_hour] = count
    # favorites, replies and retweets read zero before 2015-09-15 (003).
    zero_until = min(max((spec.ZERO_BEFORE - window.start) // spec.HOUR, 0), size)
    zeroed = [bool(zero_until) and m.zero_before_2015_09_15 for m in query.metrics]
    rows = []
    for post_id in post_ids:
        row = []
        for code, zero in zip(codes, zeroed, strict=True):
            values = series.get((post_id, code)) or [0] * size
            row.append([0] * zero_until + values[zero_until:] if zero else values)
        rows.append(row)
    return rows
