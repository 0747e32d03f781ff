"""Served (post, metric) data -> the nested grouping objects of the answer (RULES.md sections 4, 5).

A grouping's levels nest in the order given. Entity levels (`tweet.id`, `engagement.type`) split
the served pairs; time levels split the window's hours, always as a `slice` of each pair's
hourly series: a day is a contiguous run, an hour within a day one cell, and an hour of day
without a day before it (RULES.md D14) every 24th cell. Leaves sum what lies under them and
render it as a string.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import spec
from .times import day_key, hour_key


@dataclass(frozen=True, slots=True)
class Served:
    post_id: str
    metric: str
    values: int | list[int]  # an all-time total, or one count per hour of the window


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


def shape(levels: tuple[str, ...], served: list[Served], timeline: Timeline | None) -> dict:
    """One grouping's object; `{}` when nothing is served."""
    if not served:
        return {}
    if _TIME_LEVELS.isdisjoint(levels):
        return _entity_tree(levels, served)
    return _level(levels, served, timeline, slice(0, len(timeline.hour_keys)), False)


def _entity_tree(levels: tuple[str, ...], served: list[Served]) -> dict:
    """Groupings of posts and metrics only: one pass, summing into nested dicts."""
    by_post = [level == spec.TWEET_ID for level in levels]
    *inner, last = by_post
    root: dict = {}
    for item in served:
        node = root
        for post_level in inner:
            node = node.setdefault(item.post_id if post_level else item.metric, {})
        key = item.post_id if last else item.metric
        values = item.values
        node[key] = node.get(key, 0) + (values if type(values) is int else sum(values))
    return _stringify(root, len(levels))


def _stringify(node: dict, depth: int) -> dict:
    if depth == 1:
        return {key: str(count) for key, count in node.items()}
    return {key: _stringify(child, depth - 1) for key, child in node.items()}


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
