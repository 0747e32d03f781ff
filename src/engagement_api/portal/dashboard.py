"""The engagement dashboard of a signed-in user: their own posts, with every figure asked of
the same request functions as the API (`parse_query` and `answer`), so the page and the API
always agree.

003: "In order to calculate a baseline engagement rate, please use the total number of
engagements divided by the total number of impressions for a given Post".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from markupsafe import Markup

from .. import spec
from ..auth import Principal
from ..engagement.answer import answer
from ..query import parse_query
from ..store import App, Post, Reads, Store
from ..times import floor_hour, format_instant
from .charts import NARROW, Series, line_chart

TABLE_METRICS = (
    "impressions", "engagements", "favorites", "retweets", "replies", "video_views",
)  # fmt: skip
SORTABLE = (*TABLE_METRICS, "rate", "created")
COLUMNS = (  # (sort key, heading) of the totals table after the post id
    ("created", "Created"), *((m, m.replace("_", " ")) for m in TABLE_METRICS), ("rate", "Rate"),
)  # fmt: skip
MAX_POSTS = 250  # the dashboard shows the newest posts, as many as one /totals request takes
SERIES_METRICS = ("impressions", "engagements")
# The request functions need an app; the dashboard is the user's own, asking as the user.
PORTAL_APP = App(0, "portal", "", "", True, 0)


@dataclass
class Row:
    post: Post
    counts: dict[str, int | None]  # None: not served (too old for the metric)

    @property
    def created(self) -> str:
        return format_instant(self.post.created_ms / 1000)[:10]

    @property
    def rate(self) -> float | None:
        impressions, engagements = self.counts.get("impressions"), self.counts.get("engagements")
        if not impressions or engagements is None:
            return None
        return engagements / impressions


@dataclass(frozen=True)
class Chart:
    markup: Markup  # the SVG for a laptop's width
    narrow: Markup  # the SVG for a phone's
    chart_id: str
    title: str
    series: list[Series]
    figures: list[tuple[str, list[int]]]  # (when, one value per series): the table beside it


@dataclass(frozen=True)
class Comparison:
    name: str
    post_ids: list[int]
    totals: dict[str, int]
    chart: Chart


@dataclass
class Dashboard:
    rows: list[Row]
    top: dict[str, list[Row]]
    charts: list[Chart] = field(default_factory=list)
    comparison: list[Comparison] = field(default_factory=list)
    window_days: int = 7
    sort: str = "impressions"
    descending: bool = True


def own_posts(store: Store, user_id: int) -> list[Post]:
    """The newest posts of the user that the API answers for (not protected, not deleted)."""
    posts = store.recent_posts(MAX_POSTS * 2, author_id=user_id)
    return [p for p in posts if not p.protected and not p.deleted][:MAX_POSTS]


def ask(
    reads: Reads,
    user_id: int,
    endpoint: spec.Endpoint,
    ids: list[int],
    metrics: tuple[str, ...],
    levels: list[str],
    now: float,
    **window: str,
) -> list[dict]:
    """The API's answers for these posts (in batches the endpoint takes), grouping "g"."""
    answers = []
    for start in range(0, len(ids), endpoint.max_ids):
        document = {
            "tweet_ids": [str(i) for i in ids[start : start + endpoint.max_ids]],
            "engagement_types": [m for m in metrics if m in endpoint.metrics],
            "groupings": {"g": {"group_by": levels}},
            **window,
        }
        query = parse_query(endpoint, orjson.dumps(document), now)
        answers.append(orjson.loads(answer(reads, query, Principal(PORTAL_APP, user_id), now)))
    return answers


def summed_series(
    reads: Reads, user_id: int, endpoint: spec.Endpoint, ids: list[int], now: float, **window
) -> tuple[str, str, dict[str, dict[str, int]]]:
    """(start, end, metric -> time key -> count summed over the posts), hourly on /28hr and
    daily on /historical."""
    level = spec.ENGAGEMENT_HOUR if endpoint is spec.HOURS28 else spec.ENGAGEMENT_DAY
    levels = [spec.ENGAGEMENT_TYPE, spec.ENGAGEMENT_DAY, spec.ENGAGEMENT_HOUR]
    if level == spec.ENGAGEMENT_DAY:
        levels = [spec.ENGAGEMENT_TYPE, spec.ENGAGEMENT_DAY]
    totals: dict[str, dict[str, int]] = {m: {} for m in SERIES_METRICS}
    start = end = ""
    for part in ask(reads, user_id, endpoint, ids, SERIES_METRICS, levels, now, **window):
        start, end = part["start"], part["end"]
        for metric, days in part["g"].items():
            for day, value in days.items():
                cells = value.items() if isinstance(value, dict) else [("", value)]
                for hour, count in cells:
                    key = f"{day} {hour}:00" if hour else day
                    totals[metric][key] = totals[metric].get(key, 0) + int(count)
    return start, end, totals


def build(
    store: Store,
    reads: Reads,
    user_id: int,
    now: float,
    sort: str = "impressions",
    descending: bool = True,
    window_days: int = 7,
    post: int | None = None,
    set_a: list[int] | None = None,
    set_b: list[int] | None = None,
) -> Dashboard:
    posts = own_posts(store, user_id)
    rows = {p.id: Row(p, dict.fromkeys(TABLE_METRICS)) for p in posts}
    ids = list(rows)
    grouping = [spec.TWEET_ID, spec.ENGAGEMENT_TYPE]
    for part in ask(reads, user_id, spec.TOTALS, ids, TABLE_METRICS, grouping, now):
        for post_id, counts in part["g"].items():
            rows[int(post_id)].counts.update({m: int(v) for m, v in counts.items()})
    board = Dashboard(
        sorted(rows.values(), key=_sort_key(sort), reverse=descending),
        {metric: _top(rows.values(), metric) for metric in TABLE_METRICS},
        window_days=window_days,
        sort=sort,
        descending=descending,
    )
    if not posts:
        return board
    end = floor_hour(now) + spec.HOUR
    window = {
        "start": format_instant(end - window_days * spec.DAY),
        "end": format_instant(min(end, now)),
    }
    days = f"every day of the last {window_days} days"

    def charts_of(chart_id: str, chosen: list[int], whose: str) -> list[Chart]:
        hourly = summed_series(reads, user_id, spec.HOURS28, chosen, now)
        daily = summed_series(reads, user_id, spec.HISTORICAL, chosen, now, **window)
        return [
            _chart(f"{chart_id}-hourly", f"{whose}: every hour of the last 28 hours", hourly),
            _chart(f"{chart_id}-daily", f"{whose}: {days}", daily),
        ]

    board.charts += charts_of("all", ids, f"All your {len(ids)} posts, summed")
    if post in rows:
        board.charts += charts_of("post", [post], f"Post {post}")
    for name, chosen in (("A", set_a), ("B", set_b)):
        chosen = [i for i in dict.fromkeys(chosen or []) if i in rows]
        if chosen:
            totals = {m: sum(rows[i].counts[m] or 0 for i in chosen) for m in TABLE_METRICS}
            daily = summed_series(reads, user_id, spec.HISTORICAL, chosen, now, **window)
            chart = _chart(f"set-{name.lower()}", f"Set {name}: {days}", daily)
            board.comparison.append(Comparison(name, chosen, totals, chart))
    return board


def _top(rows, metric: str, count: int = 3) -> list[Row]:
    return sorted((r for r in rows if r.counts[metric]), key=lambda r: -r.counts[metric])[:count]


def _chart(chart_id: str, title: str, found: tuple[str, str, dict[str, dict[str, int]]]):
    _, _, totals = found
    labels = list(next(iter(totals.values()), {}))
    series = [
        Series(metric, [totals[metric].get(label, 0) for label in labels], style)
        for metric, style in zip(SERIES_METRICS, ("series-a", "series-b"), strict=True)
    ]
    short = [label[-5:] if ":" in label else label[5:] for label in labels]
    figures = [(label, [s.values[i] for s in series]) for i, label in enumerate(labels)]
    return Chart(
        line_chart(chart_id, title, short, series),
        line_chart(f"{chart_id}-narrow", title, short, series, NARROW),
        chart_id,
        title,
        series,
        figures,
    )


def _sort_key(sort: str):
    if sort == "created":
        return lambda r: r.post.created_ms
    if sort == "rate":
        return lambda r: (r.rate is not None, r.rate or 0)
    return lambda r: (r.counts.get(sort) is not None, r.counts.get(sort) or 0)
