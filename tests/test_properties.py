"""Properties that hold for every input: ids, instants, the shapes of groupings, and the two
paths of ingest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations
from unittest import mock

import numpy as np
import orjson
import pytest
from helpers import ENGINES, NOW, event, new_store_url, post
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_api import spec
from engagement_api.ids import MAX_ID, parse_id
from engagement_api.ingest import columnar
from engagement_api.ingest import ingest_records as ingest_batch
from engagement_api.shape import Table, shape, timeline
from engagement_api.store import open_store
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


# -- ingest: the column path and the record path roll up alike ------------------------------
NOW_AT = int(parse_instant(NOW))
POST_IDS = [1100000000000000101 + n for n in range(4)]
CODES = [m.code for m in spec.METRICS]
EVENT_TYPES = sorted(spec.EVENT_TYPES)


def instant(ms: int, offset_minutes: int, compact: bool) -> str:
    """`ms` as an ISO 8601 string the column path reads: a zone of Z or an offset, written
    `+HH:MM` or `+HHMM`, and milliseconds only when there are some, trailing zeros dropped."""
    shown = datetime.fromtimestamp(ms / 1000, UTC) + timedelta(minutes=offset_minutes)
    text = shown.strftime("%Y-%m-%dT%H:%M:%S")
    if ms % 1000:
        text += f".{ms % 1000:03d}".rstrip("0")
    if offset_minutes == 0 and not compact:
        return text + "Z"
    sign, minutes = ("+" if offset_minutes >= 0 else "-"), abs(offset_minutes)
    return text + f"{sign}{minutes // 60:02d}{'' if compact else ':'}{minutes % 60:02d}"


instants = st.tuples(st.sampled_from([0, 0, 60, 330, -300, -720]), st.booleans())


@st.composite
def ingest_batches(draw) -> tuple[list[dict], list[dict], int]:
    """Two batches: some posts; then engagement events (every type, promoted or not, any
    count, at any millisecond from their post's creation to NOW, both ends included, or a
    little outside, refused) mixed with the other posts, in any order: (first batch, second
    batch, events)."""
    created, first, second = {}, [], []
    for n, post_id in enumerate(POST_IDS[: draw(st.integers(1, len(POST_IDS)))]):
        created_ms = (NOW_AT - draw(st.integers(0, 3 * 24 * HOUR))) * 1000
        created_ms += draw(st.sampled_from([0, 0, 1, 500, 999]))
        created[post_id] = min(created_ms, NOW_AT * 1000)
        record = post(
            post_id, 2244994945, "XDevelopers", instant(created[post_id], *draw(instants))
        )
        if draw(st.booleans()):
            record["video_id"] = f"v{post_id % 3}"
        (first if n == 0 or draw(st.booleans()) else second).append(record)
    events = []
    for n in range(draw(st.integers(1, 30))):
        post_id = POST_IDS[0] if n == 0 else draw(st.sampled_from(list(created)))
        at_ms = draw(
            st.one_of(
                st.just(created[post_id]),
                st.just(NOW_AT * 1000),
                st.integers(created[post_id], NOW_AT * 1000),
                st.integers(created[post_id] - 1500, created[post_id] - 1),  # refused
                st.integers(NOW_AT * 1000 + 1, NOW_AT * 1000 + 1500),  # refused
            )
        )
        record = event(post_id, draw(st.sampled_from(EVENT_TYPES)), instant(at_ms, *draw(instants)))
        record["count"] = draw(st.integers(1, 10**6))
        record["promoted"] = draw(st.booleans())
        for name in draw(st.sets(st.sampled_from(["count", "promoted"]))):
            del record[name]  # absent fields: a count of one, not promoted
        events.append(record)
    return first, draw(st.permutations(events + second)), len(events)


def ingested(store, batches: list[list[dict]], column_path: bool) -> tuple[int, list]:
    """Ingest each batch, the column path on or off: (rows the column path took, rejections)."""
    real, taken = columnar.plain_events, []

    def plain_events(table):
        found = real(table)
        if not column_path:  # no row is plainly valid: every one takes the record path
            found = columnar.select(found, np.zeros(len(found.rows), dtype=bool))
        taken.append(len(found.rows))
        return found

    rejected = []
    with mock.patch.object(columnar, "plain_events", plain_events):
        for n, batch in enumerate(batches):
            ingest_batch(
                store, batch, f"batch-{n}", NOW_AT, lambda *r, n=n: rejected.append((n, *r))
            )
    assert len(taken) == len(batches), "the column path was not asked"
    return sum(taken), rejected


def roll_up(store) -> dict:
    """Everything the store answers of the posts: hourly rows, totals, video totals."""
    ids, videos = POST_IDS, [f"v{n}" for n in range(3)]
    hourly = sorted(store.read_hourly(ids, CODES, 0, NOW_AT // HOUR + 1))
    totals = store.read_totals(ids, CODES)
    summed: dict[tuple[int, int], int] = {}
    for post_id, code, _, count in hourly:
        summed[post_id, code] = summed.get((post_id, code), 0) + count
    assert {k: v for k, v in totals.items() if v} == summed  # totals are kept alongside
    return {"hourly": hourly, "totals": totals, "videos": store.read_video_totals(videos)}


@pytest.fixture(scope="module", params=ENGINES)
def fresh_stores(request, tmp_path_factory):
    """Opens fresh, empty stores of one engine, one after another."""
    engine = request.param
    postgres = request.getfixturevalue("postgres_server") if engine == "postgresql" else None
    return lambda: open_store(new_store_url(engine, tmp_path_factory.mktemp(engine), postgres))


@settings(max_examples=40, deadline=None)
@given(ingest_batches())
def test_the_column_path_and_the_record_path_roll_up_alike(fresh_stores, drawn):
    first, second, events = drawn
    with fresh_stores() as columns, fresh_stores() as rows:
        taken, rejected = ingested(columns, [first, second], column_path=True)
        assert taken == events  # every event is plainly valid: the column path took each
        assert ingested(rows, [first, second], column_path=False) == (0, rejected)
        assert roll_up(columns) == roll_up(rows)
