"""The endpoint reads, written once for both engines: the same answers, of the same types, for
lists of ids longer than one SQLite in-list takes."""

from __future__ import annotations

from helpers import event, ingest, post

from engagement_api.spec import METRIC_BY_NAME
from engagement_api.store import Post

BASE = 1200000000000000000
IMPRESSIONS, FAVORITES = METRIC_BY_NAME["impressions"].code, METRIC_BY_NAME["favorites"].code


def test_posts_answer_the_same_records_on_every_engine(store):
    ingest(
        store,
        [
            post(BASE + 1, 7, "ann", "2026-11-19T06:00:00Z", protected=True, video_id="v1"),
            post(BASE + 2, 7, "ann", "2026-11-19T07:00:00Z"),
        ],
    )
    found = store.get_posts([BASE + 1, BASE + 2, BASE + 3])
    assert set(found) == {BASE + 1, BASE + 2}
    newest = store.recent_posts(10, author_id=7)
    assert [p.id for p in newest] == [BASE + 2, BASE + 1]
    for one in (found[BASE + 1], newest[1]):
        assert one == Post(BASE + 1, 7, one.created_ms, True, False, "v1")
        assert type(one.protected) is bool and type(one.deleted) is bool


def test_reads_span_more_ids_than_one_in_list_takes(store):
    ids = [BASE + i for i in range(2000)]  # SQLite matches 900 at a time
    records = [post(i, 8, "bo", "2026-11-19T06:00:00Z") for i in ids]
    records += [event(i, "impressions", "2026-11-19T08:30:00Z", 1 + i % 5) for i in ids]
    records += [event(ids[-1], "favorites", "2026-11-19T09:30:00Z", 4)]
    ingest(store, records)
    assert len(store.get_posts(ids)) == 2000
    totals = store.read_totals(ids, [IMPRESSIONS, FAVORITES])
    assert len(totals) == 2001 and totals[ids[-1], FAVORITES] == 4
    assert sum(totals[i, IMPRESSIONS] for i in ids) == sum(1 + i % 5 for i in ids)
    hour = 0  # every event of the test lies after it
    rows = store.read_hourly(ids, [IMPRESSIONS], hour, 2**31 - 1)
    assert len(rows) == 2000
    since = store.read_counts_since(ids, [FAVORITES], hour)
    assert since == {(ids[-1], FAVORITES): 4}
    assert store.read_hourly(ids, [], hour, 2**31 - 1) == []
