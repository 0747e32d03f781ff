"""A typed query and a verified principal -> the answer object (RULES.md sections 7, 8, 9).

The checks after body validation run here, in the documented order: app-only rights (403),
ownership (403), protected posts (400); then the partial-result lists and the groupings.
"""

from __future__ import annotations

from . import spec
from .auth.principal import Principal
from .errors import ApiError
from .query import Query
from .shape import Served, Timeline, shape
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
) -> list[Served]:
    pairs = [
        (post, metric)
        for post in available
        for metric in query.metrics
        if post.id not in unsupported.get(metric.name, ())
    ]
    if not pairs:
        return []
    post_ids = list(dict.fromkeys(p.id for p, _ in pairs))
    codes = list(dict.fromkeys(m.code for _, m in pairs))
    if query.window is None:
        return _served_totals(store, pairs, post_ids, codes, now)
    return _served_series(store, query, pairs, post_ids, codes)


def _served_totals(store, pairs, post_ids, codes, now: float) -> list[Served]:
    """All-time totals as kept, less any events stored for hours after the current one.

    Such events exist only when the clock is set before data already ingested; the kept
    totals are then corrected from the hourly rows (RULES.md section 6: up to now).
    """
    video_code = spec.METRIC_BY_NAME["video_views"].code
    video_ids = [p.video_id for p, m in pairs if p.video_id and m.code == video_code]
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
    return [
        Served(
            str(post.id),
            metric.name,
            videos.get(post.video_id, 0)
            if metric.code == video_code and post.video_id
            else totals.get((post.id, metric.code), 0),
        )
        for post, metric in pairs
    ]


def _served_series(store, query, pairs, post_ids, codes) -> list[Served]:
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
    served = []
    for post, metric in pairs:
        values = series.get((post.id, metric.code)) or [0] * size
        if zero_until and metric.zero_before_2015_09_15:
            values = [0] * zero_until + values[zero_until:]
        served.append(Served(str(post.id), metric.name, values))
    return served
