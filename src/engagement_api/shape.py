"""Served (post, metric) counts -> the nested grouping objects of the answer (RULES.md 4, 5).

What is served is a table (`Table`): a row per post, a column per metric, and in each cell an
all-time count or one count per hour of the window, with `served[p, m]` False where the pair
is not served. A grouping's levels nest in the order given; every level is an axis of one
array, so a grouping is the table's counts summed over the axes it does not name, put in the
order it names, then written out as nested objects with the counts as strings.

Time levels use the window laid out as a grid of days by hour of day (`Timeline`): a day is a
row of that grid, an hour within a day one of its cells, and an hour of day without a day
before it (RULES.md D14) a column, summed over every day. Cells of the grid outside the window
are zero and have no key. A post or metric with nothing served under it has no key; under a
post, a metric not served for it has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import orjson

from . import spec
from .times import day_key

_AXIS_OF_LEVEL = {
    spec.TWEET_ID: "p",
    spec.ENGAGEMENT_TYPE: "m",
    spec.ENGAGEMENT_DAY: "d",
    spec.ENGAGEMENT_HOUR: "h",
}
HOUR_KEYS = tuple(f"{h:02d}" for h in range(24))
_SAFE = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Timeline:
    """A window's hours as a grid of its days by the 24 hours of day: the window is one run
    of the grid's cells, from `offset` (the hour of day it starts at)."""

    hours: int
    offset: int
    days: tuple[str, ...]
    hours_in_day: tuple[tuple[int, ...], ...]  # per day: its hours of day in the window
    hours_of_day: tuple[int, ...]  # the hours of day that occur in the window, in order
    day_starts: tuple[int, ...]  # per day: the index of its first hour in the window


@lru_cache(maxsize=256)
def timeline(start: int, end: int) -> Timeline:
    hours = (end - start) // spec.HOUR
    first_day, offset = divmod(start // spec.HOUR, 24)
    cells = range(offset, offset + hours)
    count = (cells[-1] // 24) + 1
    in_day = tuple(tuple(h for h in range(24) if d * 24 + h in cells) for d in range(count))
    return Timeline(
        hours,
        offset,
        tuple(day_key((first_day + d) * spec.DAY) for d in range(count)),
        in_day,
        tuple(sorted({h for day in in_day for h in day})),
        tuple([0] + [d * 24 - offset for d in range(1, count)]),
    )


@dataclass(slots=True)
class Table:
    """The served table: counts (P, M) all-time or (P, M, H) hourly, zero where not served."""

    posts: list[str]
    metrics: list[str]
    counts: np.ndarray
    served: np.ndarray  # (P, M) bool
    timeline: Timeline | None = None
    largest: int = _SAFE  # no count is larger (what decides whether sums fit 64 bits)

    def kept(self) -> Table:
        """Only posts and metrics with at least one served pair."""
        rows = self.served.any(axis=1)
        columns = self.served.any(axis=0)
        if rows.all() and columns.all():
            return self
        row_index, column_index = np.flatnonzero(rows), np.flatnonzero(columns)
        return Table(
            [self.posts[i] for i in row_index],
            [self.metrics[j] for j in column_index],
            self.counts[row_index][:, column_index],
            self.served[np.ix_(row_index, column_index)],
            self.timeline,
            self.largest,
        )


def shape(levels: tuple[str, ...], table: Table) -> dict:
    """One grouping's object; `{}` when nothing is served. `table` must be `kept()`. The
    innermost objects come already written (`orjson.Fragment`), for `orjson.dumps`."""
    if not table.posts:
        return {}
    counts = table.counts
    if table.largest > _SAFE // max(counts.size, 1):
        counts = counts.astype(object)  # sums could pass 2^63: exact Python integers
    wanted = [_AXIS_OF_LEVEL[level] for level in levels]
    axes = ["p", "m"]
    line = table.timeline
    if line is not None:
        if "h" in wanted:  # the window laid out on the grid of days by hours of day
            grid = np.zeros((*counts.shape[:2], len(line.days) * 24), dtype=counts.dtype)
            grid[:, :, line.offset : line.offset + line.hours] = counts
            counts = grid.reshape(*counts.shape[:2], len(line.days), 24)
            axes = ["p", "m", "d", "h"]
        elif "d" in wanted:
            counts = np.add.reduceat(counts, line.day_starts, axis=2)
            axes = ["p", "m", "d"]
        else:
            counts = counts.sum(axis=2)
    summed = tuple(i for i, axis in enumerate(axes) if axis not in wanted)
    if summed:
        counts = counts.sum(axis=summed)
        axes = [axis for axis in axes if axis in wanted]
    counts = counts.transpose([axes.index(axis) for axis in wanted])
    return _Writer(wanted, table).write(counts)


class _Keys:
    """The keys of one level in one context: (index, key) pairs, and the leaf object they
    make as a template (`{"k1":"%d",...}`), filled in one formatting call."""

    __slots__ = ("pairs", "template", "window", "zero")

    def __init__(self, pairs: tuple[tuple[int, str], ...]) -> None:
        self.pairs = pairs
        indices = [i for i, _ in pairs]
        first = indices[0] if indices else 0
        contiguous = indices == list(range(first, first + len(indices)))
        self.window = slice(first, first + len(indices)) if contiguous else None
        self.template = (
            b"{"
            + b",".join(orjson.dumps(key).replace(b"%", b"%%") + b':"%d"' for _, key in pairs)
            + b"}"
        )
        self.zero = orjson.Fragment(self.template % ((0,) * len(pairs)))  # the common leaf

    def leaf(self, values: list) -> orjson.Fragment:
        if not any(values):
            return self.zero
        if self.window is not None:
            return orjson.Fragment(self.template % tuple(values[self.window]))
        return orjson.Fragment(self.template % tuple([values[i] for i, _ in self.pairs]))


_keys_of = lru_cache(maxsize=4096)(_Keys)  # days, hours and metrics repeat across requests


class _Writer:
    """Writes an array whose axes follow the grouping's levels as nested objects."""

    def __init__(self, axes: list[str], table: Table) -> None:
        self.axes = axes
        self.last = len(axes) - 1
        self.table = table
        self.pair = "p" in axes and "m" in axes  # keys of the inner one follow `served`
        self.served = table.served.tolist()
        self.full_rows = table.served.all(axis=1).tolist()  # posts served every metric
        self.full_columns = table.served.all(axis=0).tolist()
        self.day_first = "d" in axes and "h" in axes  # RULES.md: day always before hour
        self._keys: dict[tuple, _Keys] = {}
        metrics = list(enumerate(table.metrics))
        under_post = self.pair and axes.index("p") < axes.index("m")
        if table.timeline is not None and not under_post:
            # Series name the metrics not under a post in the order they first occur, post
            # by post (how the answers were always written; key order carries no meaning).
            first = table.served.argmax(axis=0).tolist()
            metrics.sort(key=lambda item: (first[item[0]], item[0]))
        self.metric_keys = metrics

    def write(self, counts: np.ndarray) -> dict:
        # Whether anything happened under each index prefix: answers are mostly zeros, and
        # a subtree of zeros is written once per key context.
        flags = [
            counts.any(axis=tuple(range(k + 1, counts.ndim))).tolist()
            for k in range(counts.ndim - 1)
        ]
        self._zeros: dict[tuple, orjson.Fragment] = {}
        return self._level(0, counts.tolist(), flags, None, None, None)

    def keys(self, axis: str, p, m, d) -> _Keys:
        """The keys of `axis` under the levels above (p, m, d: their indices, or None)."""
        context = (
            axis,
            p if axis == "m" and self.pair and p is not None and not self.full_rows[p] else None,
            m if axis == "p" and self.pair and m is not None and not self.full_columns[m] else None,
            d if axis == "h" and self.day_first else None,
        )
        found = self._keys.get(context)
        if found is None:
            found = self._keys[context] = _keys_of(tuple(self._pairs(*context)))
        return found

    def _pairs(self, axis: str, p, m, d) -> list[tuple[int, str]]:
        table = self.table
        if axis == "p":
            if m is not None:
                return [(i, k) for i, k in enumerate(table.posts) if self.served[i][m]]
            return list(enumerate(table.posts))
        if axis == "m":
            if p is not None:
                served = self.served[p]
                return [(j, k) for j, k in enumerate(table.metrics) if served[j]]
            return self.metric_keys
        line = table.timeline
        if axis == "d":
            return list(enumerate(line.days))
        hours = line.hours_in_day[d] if d is not None else line.hours_of_day
        return [(h, HOUR_KEYS[h]) for h in hours]

    def _level(self, depth: int, values: list, flags: list, p, m, d):
        axis = self.axes[depth]
        keys = self.keys(axis, p, m, d)
        if depth == self.last:
            if depth == 0:  # a grouping of one level: an object of counts, keys addressable
                return {key: str(values[i]) for i, key in keys.pairs}
            return keys.leaf(values)
        out = {}
        below = self.axes[depth + 1]
        here, deeper = flags[0], flags[1:]
        for i, key in keys.pairs:
            cp = i if axis == "p" else p
            cm = i if axis == "m" else m
            cd = i if axis == "d" else d
            if not here[i]:
                out[key] = self._zero(depth + 1, cp, cm, cd)
            elif depth + 1 == self.last:
                out[key] = self.keys(below, cp, cm, cd).leaf(values[i])
            else:
                out[key] = self._level(depth + 1, values[i], [f[i] for f in deeper], cp, cm, cd)
        return out

    def _zero(self, depth: int, p, m, d) -> orjson.Fragment:
        """The subtree at `depth` when nothing happened under it, written once per context."""
        below = self.axes[depth:]
        context = (
            depth,
            p if "m" in below and "p" not in below else None,
            m if "p" in below and "m" not in below else None,
            d if "h" in below and "d" not in below else None,
        )
        found = self._zeros.get(context)
        if found is None:
            found = self._zeros[context] = orjson.Fragment(
                orjson.dumps(self._zero_tree(depth, p, m, d))
            )
        return found

    def _zero_tree(self, depth: int, p, m, d):
        axis = self.axes[depth]
        keys = self.keys(axis, p, m, d)
        if depth == self.last:
            return keys.zero
        return {
            key: self._zero_tree(
                depth + 1,
                i if axis == "p" else p,
                i if axis == "m" else m,
                i if axis == "d" else d,
            )
            for i, key in keys.pairs
        }
