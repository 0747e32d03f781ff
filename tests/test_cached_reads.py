"""A worker remembers posts and totals, and forgets them when any batch commits anywhere."""

from __future__ import annotations

from helpers import (
    A1,
    A2,
    ALICE,
    B1,
    UNKNOWN,
    bearer_header,
    body,
    call,
    event,
    ingest,
    post,
)

from engagement_api.ingest import ingest_records
from engagement_api.spec import METRIC_BY_NAME
from engagement_api.store import open_store
from engagement_api.store.cached import CachedReads, WorkerMemory
from engagement_api.times import parse_instant

FAVORITES = METRIC_BY_NAME["favorites"].code


def favorites(world, ids):
    answer = call(
        world.server, "totals", body(ids, ["favorites"]), headers=bearer_header(world.bearer)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_batch_from_another_connection_is_seen_at_the_next_request(world, store_url):
    first = favorites(world, [A1, B1])
    assert first["g"][str(A1)]["favorites"] == "16"
    with open_store(store_url) as elsewhere:  # as another process would: its own connection
        ingest(elsewhere, [event(A1, "favorites", "2026-11-20T11:00:00Z", 5)])
        ingest(elsewhere, [post(B1, 1002, "bob", deleted=True)])
    second = favorites(world, [A1, B1])
    assert second["g"][str(A1)]["favorites"] == "21"
    assert second["unavailable_tweet_ids"] == [str(B1)]


def test_an_unknown_post_becomes_known_once_ingested(world, store_url):
    assert favorites(world, [UNKNOWN])["unavailable_tweet_ids"] == [str(UNKNOWN)]
    with open_store(store_url) as elsewhere:
        ingest(elsewhere, [post(UNKNOWN, ALICE, "alice", "2026-11-20T10:00:00Z")])
        ingest(elsewhere, [event(UNKNOWN, "favorites", "2026-11-20T11:00:00Z", 3)])
    assert favorites(world, [UNKNOWN])["g"] == {str(UNKNOWN): {"favorites": "3"}}


def test_every_applied_batch_moves_the_data_version_and_a_replay_does_not(store):
    start = store.data_version()
    records = [post(A1, ALICE, "alice"), event(A1, "favorites", "2026-11-20T11:00:00Z")]
    ingest_records(store, records, key="once", now=1.8e9)
    assert store.data_version() == start + 1
    ingest_records(store, records, key="once", now=1.8e9)
    assert store.data_version() == start + 1


def test_reads_stay_exact_past_the_bound(store):
    ingest(
        store,
        [
            post(A1, ALICE, "alice"),
            post(A2, ALICE, "alice"),
            event(A1, "favorites", "2026-11-20T11:00:00Z", 2),
            event(A2, "favorites", "2026-11-20T11:00:00Z", 3),
        ],
    )
    reads = CachedReads(store, max_posts=1)
    for _ in range(3):
        assert set(reads.get_posts([A1, A2, UNKNOWN])) == {A1, A2}
        assert reads.read_totals([A2, A1], [FAVORITES]) == {
            (A1, FAVORITES): 2,
            (A2, FAVORITES): 3,
        }
        assert reads.read_totals([A1], [FAVORITES]) == {(A1, FAVORITES): 2}


def test_remembered_and_new_ids_mixed_past_the_bound(store):
    """Making room forgets what is remembered: every id of the request must then be read."""
    ingest(
        store,
        [
            post(A1, ALICE, "alice", video_id="v1"),
            post(A2, ALICE, "alice", video_id="v2"),
            event(A1, "favorites", "2026-11-20T11:00:00Z", 2),
            event(A2, "favorites", "2026-11-20T11:00:00Z", 3),
            event(A1, "video_views", "2026-11-20T11:00:00Z", 5),
            event(A2, "video_views", "2026-11-20T11:00:00Z", 7),
        ],
    )
    reads = CachedReads(store, max_posts=1)
    assert set(reads.get_posts([A1])) == {A1}
    assert set(reads.get_posts([A1, A2])) == {A1, A2}
    assert set(reads.get_posts([A2, A1, UNKNOWN])) == {A1, A2}
    assert reads.read_totals([A1], [FAVORITES]) == {(A1, FAVORITES): 2}
    assert reads.read_totals([A1, A2], [FAVORITES]) == {(A1, FAVORITES): 2, (A2, FAVORITES): 3}
    assert reads.read_video_totals(["v1"]) == {"v1": 5}
    assert reads.read_video_totals(["v1", "v2", "v9"]) == {"v1": 5, "v2": 7}


def test_memory_follows_the_data_version(store):
    memory = WorkerMemory(store)
    memory.refresh()
    reads = memory.reads
    assert reads.get_posts([A1]) == {}
    generation = reads.generation
    memory.refresh()
    assert reads.generation == generation  # nothing committed: nothing forgotten
    ingest(store, [post(A1, ALICE, "alice")])
    memory.refresh()
    assert reads.generation == generation + 1
    assert set(reads.get_posts([A1])) == {A1}


def test_the_latest_event_hour_only_moves_forward(store):
    assert store.latest_event_hour() is None
    ingest(store, [post(A1, ALICE, "alice"), event(A1, "favorites", "2026-11-20T11:59:00Z")])
    eleven = int(parse_instant("2026-11-20T11:00:00Z")) // 3600
    assert store.latest_event_hour() == eleven
    ingest(store, [event(A1, "favorites", "2026-11-20T09:00:00Z")])  # earlier: no change
    assert store.latest_event_hour() == eleven
    ingest(store, [event(A1, "favorites", "2026-11-20T12:10:00Z")])
    assert store.latest_event_hour() == eleven + 1
