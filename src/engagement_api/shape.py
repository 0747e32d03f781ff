"""Served (post, metric) data -> the nested grouping objects of the answer (RULES.md sections 4, 5).

What is served is a table: a row per post, a column per metric, and in each cell an all-time
count or one count per hour of the window (None where the pair is not served). A grouping's
levels nest in the order given. Entity levels (`tweet.id`, `engagement.type`) split the rows
and columns; time levels split the window's hours, always as a `slice` of each hourly series:
a day is a contiguous run, an hour within a day one cell, and an hour of day without a day
before it (RULES.md D14) every 24th cell. Leaves sum what lies under them and render it as a
string. A post or metric with nothing served under it has no key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from . import spec
from .times import day_key, hour_key

Value = int | list[int]  # an all-time total, or one count per hour of the window


class Served(NamedTuple):
    post_id: str
    metric: str
    values: Value


@dataclass(slots=True)
class Cells:
    """The served table: only posts and metrics with at least one served pair."""

    posts: list[str]
    metrics: list[str]
    rows: list[list[Value | None]]  # rows[post][metric]

    @classmethod
    def build(cls, posts: list[str], metrics: list[str], rows: list[list[Value | None]]) -> Cells:
        keep_rows = [i for i, row in enumerate(rows) if any(v is not None for v in row)]
        keep_columns = [
            j for j in range(len(metrics)) if any(rows[i][j] is not None for i in keep_rows)
        ]
        if len(keep_rows) == len(posts) and len(keep_columns) == len(metrics):
            return cls(posts, metrics, rows)
        return cls(
            [posts[i] for i in keep_rows],
            [metrics[j] for j in keep_columns],
            [[rows[i][j] for j in keep_columns] for i in keep_rows],
        )

    @property
    def all_time(self) -> bool:
        """Cells hold all-time counts (ints), not hourly series."""
        return any(type(v) is int for v in self.rows[0]) if self.rows else True

    def pairs(self) -> list[Served]:
        return [
            Served(post, metric, value)
            for post, row in zip(self.posts, self.rows, strict=True)
            for metric, value in zip(self.metrics, row, strict=True)
            if value is not None
        ]


@dataclass(frozen=True, slots=True)
class Timeline:
    """The hours of a window, with their day and hour keys."""

    hour_keys: list[str]
    days: list[tuple[str, slice]]
    profile: list[tuple[str, slice]]  # hour of day -> every cell of that hour

    @classmethod
    def for_window(cls, start: int, end: int) -> Timeline:
        hours = list(range(start, end, spec.HOUR))
        hour_keys = [hour_key(h) for h in hours]
        days: list[tuple[str, slice]] = []
        for index, hour in enumerate(hours):
            key = day_key(hour)
            if days and days[-1][0] == key:
                days[-1] = (key, slice(days[-1][1].start, index + 1))
            else:
                days.append((key, slice(index, index + 1)))
        first_of_hour: dict[str, int] = {}
        for index, key in enumerate(hour_keys[:24]):
            first_of_hour[key] = index
        profile = [
            (key, slice(first_of_hour[key], len(hours), 24)) for key in sorted(first_of_hour)
        ]
        return cls(hour_keys, days, profile)


_TIME_LEVELS = frozenset({spec.ENGAGEMENT_DAY, spec.ENGAGEMENT_HOUR})


def shape(levels: tuple[str, ...], cells: Cells, timeline: Timeline | None) -> dict:
    """One grouping's object; `{}` when nothing is served."""
    if not cells.posts:
        return {}
    if _TIME_LEVELS.isdisjoint(levels):
        return _entities(levels, cells)
    return _level(levels, cells.pairs(), timeline, slice(0, len(timeline.hour_keys)), False)


def _total(value: Value) -> int:
    return value if type(value) is int else sum(value)


def _entities(levels: tuple[str, ...], cells: Cells) -> dict:
    """Groupings of posts and metrics only, straight from the table."""
    posts, metrics, rows = cells.posts, cells.metrics, cells.rows
    if levels == (spec.TWEET_ID, spec.ENGAGEMENT_TYPE) and cells.all_time:
        return {  # the common /totals shape: every leaf is one count
            post: {m: str(v) for m, v in zip(metrics, row, strict=True) if v is not None}
            for post, row in zip(posts, rows, strict=True)
        }
    if levels == (spec.TWEET_ID, spec.ENGAGEMENT_TYPE):
        return {
            post: {m: str(_total(v)) for m, v in zip(metrics, row, strict=True) if v is not None}
            for post, row in zip(posts, rows, strict=True)
        }
    if levels == (spec.ENGAGEMENT_TYPE, spec.TWEET_ID):
        return {
            metric: {
                p: str(_total(row[j]))
                for p, row in zip(posts, rows, strict=True)
                if row[j] is not None
            }
            for j, metric in enumerate(metrics)
        }
    if levels == (spec.TWEET_ID,):
        return {
            post: str(sum(_total(v) for v in row if v is not None))
            for post, row in zip(posts, rows, strict=True)
        }
    return {  # (engagement.type,)
        metric: str(sum(_total(row[j]) for row in rows if row[j] is not None))
        for j, metric in enumerate(metrics)
    }


def _level(levels, served, timeline, hours: slice | None, in_day: bool):
    if not levels:
        return str(_sum(served, hours))
    level, rest = levels[0], levels[1:]
    if level == spec.TWEET_ID:
        return {
            key: _level(rest, group, timeline, hours, in_day)
            for key, group in _split(served, "post_id")
        }
    if level == spec.ENGAGEMENT_TYPE:
        return {
            key: _level(rest, group, timeline, hours, in_day)
            for key, group in _split(served, "metric")
        }
    if level == spec.ENGAGEMENT_DAY:
        return {key: _level(rest, served, timeline, day, True) for key, day in timeline.days}
    # engagement.hour
    if not in_day:
        return {
            key: _level(rest, served, timeline, cells, False) for key, cells in timeline.profile
        }
    if not rest:  # the common leaf of hourly series: one cell per hour
        keys = timeline.hour_keys[hours]
        if len(served) == 1:
            counts = served[0].values[hours]
        else:
            columns = zip(*(s.values[hours] for s in served), strict=True)
            counts = [sum(column) for column in columns]
        return dict(zip(keys, map(str, counts), strict=True))
    return {
        timeline.hour_keys[i]: _level(rest, served, timeline, slice(i, i + 1), True)
        for i in range(hours.start, hours.stop)
    }


def _split(served: list[Served], attribute: str) -> list[tuple[str, list[Served]]]:
    groups: dict[str, list[Served]] = {}
    for item in served:
        groups.setdefault(getattr(item, attribute), []).append(item)
    return list(groups.items())


def _sum(served: list[Served], hours: slice | None) -> int:
    if hours is None:
        return sum(s.values for s in served)
    return sum(sum(s.values[hours]) for s in served)
