"""Properties that hold for every input: ids, instants, and the shapes of groupings."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_api import spec
from engagement_api.ids import MAX_ID, parse_id
from engagement_api.shape import Table, shape, timeline
from engagement_api.times import format_instant, parse_instant

HOUR = spec.HOUR


@given(st.integers(min_value=1, max_value=MAX_ID))
def test_ids_round_trip_as_strings_and_numbers(n):
    assert parse_id(str(n)) == n == parse_id(n) == parse_id(f"  {n}\n")


@given(
    st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=MAX_ID + 1),
        st.floats(),
        st.booleans(),
        st.none(),
        st.text(alphabet="+-.e 0x"),
    )
)
def test_non_ids_are_refused(value):
    assert parse_id(value) is None


@given(st.integers(min_value=0, max_value=4_000_000_000))
def test_instants_round_trip(seconds):
    assert parse_instant(format_instant(seconds)) == seconds


def _leaves(node):
    if isinstance(node, str):
        yield int(node)
    else:
        for child in node.values():
            yield from _leaves(child)


SERIES_LEVELS = [
    levels
    for size in (1, 2, 3)
    for levels in permutations(
        (spec.TWEET_ID, spec.ENGAGEMENT_TYPE, spec.ENGAGEMENT_DAY, spec.ENGAGEMENT_HOUR), size
    )
    if not (
        spec.ENGAGEMENT_DAY in levels
        and spec.ENGAGEMENT_HOUR in levels
        and levels.index(spec.ENGAGEMENT_DAY) > levels.index(spec.ENGAGEMENT_HOUR)
    )
] + list(spec.FOUR_VALUE_ORDERS)


@settings(max_examples=150, deadline=None)
@given(
    start_hour=st.integers(min_value=400_000, max_value=500_000),
    hours=st.integers(min_value=1, max_value=672),
    posts=st.integers(min_value=1, max_value=4),
    metrics=st.integers(min_value=1, max_value=3),
    levels=st.sampled_from(SERIES_LEVELS),
    data=st.data(),
)
def test_every_grouping_sums_to_the_same_total(start_hour, hours, posts, metrics, levels, data):
    rows = [
        [
            data.draw(st.lists(st.integers(0, 10**6), min_size=hours, max_size=hours))
            for _ in range(metrics)
        ]
        for _ in range(posts)
    ]
    table = Table(
        [str(p) for p in range(1, posts + 1)],
        [f"m{m}" for m in range(metrics)],
        np.array(rows, dtype=np.int64),
        np.ones((posts, metrics), dtype=bool),
        timeline(start_hour * HOUR, (start_hour + hours) * HOUR),
    ).kept()
    answer = orjson.loads(orjson.dumps(shape(tuple(levels), table)))
    assert sum(_leaves(answer)) == sum(sum(v) for row in rows for v in row)
    if levels[0] == spec.TWEET_ID:
        assert list(answer) == [str(p) for p in range(1, posts + 1)]
    if levels[-1] == spec.ENGAGEMENT_HOUR and spec.ENGAGEMENT_DAY in levels:
        assert sum(1 for _ in _leaves(answer)) == hours * (
            (posts if spec.TWEET_ID in levels else 1)
            * (metrics if spec.ENGAGEMENT_TYPE in levels else 1)
        )
