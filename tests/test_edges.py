"""Edges of the rules: boundaries, odd inputs, and the corners a review found."""

from __future__ import annotations

import gzip
import json
import time
import zlib

import pytest
import requests
from helpers import (
    A1,
    A2,
    ALICE,
    B_DEL,
    UNKNOWN,
    bearer_header,
    body,
    call,
    event,
    ingest,
    make_app,
    make_user_credentials,
    post,
    signed_header,
)

from engagement_api.spec import RESERVED_KEYS
from engagement_api.store.base import MAX_COUNT
from engagement_api.times import parse_instant

REASON = "Your account could not be authenticated. Reason: {}"


def test_counts_saturate_instead_of_overflowing(world, store):
    huge = 2**62
    for _ in range(3):  # three batches: the sum passes 2^63 in the store
        ingest(store, [event(A2, "replies", "2026-11-02T11:00:00Z", huge)] * 2)
    r = call(world.server, "totals", body([A2], ["replies"]), world.alice.oauth())
    assert r.json()["g"] == {str(A2): {"replies": str(MAX_COUNT)}}
    r = call(
        world.server,
        "historical",
        body(
            [A2],
            ["replies"],
            {"d": {"group_by": ["engagement.day"]}},
            start="2026-11-02",
            end="2026-11-03",
        ),
        world.alice.oauth(),
    )
    assert r.json()["d"]["2026-11-02"] == str(MAX_COUNT)


def test_totals_count_only_up_to_now(world, server):
    """Served with the clock before some ingested events, /totals leaves them out."""
    server.clock.instant = parse_instant("2026-11-19T09:10:00Z")
    r = call(
        world.server,
        "totals",
        body([A1], ["impressions", "favorites", "video_views"]),
        world.alice.oauth(),
    )
    # impressions up to 09:59 (1000 + 1 + 40; 09:00 was promoted), favorites at 09:30 and
    # 09:45 (same hour), no video views yet (10:00)
    assert r.json()["g"] == {
        str(A1): {"impressions": "1041", "favorites": "16", "video_views": "0"}
    }


def test_posts_created_after_now_are_unavailable(world, server):
    server.clock.instant = parse_instant("2026-11-19T10:00:00Z")  # B1 is posted at 11:00
    r = call(
        world.server,
        "totals",
        body([1100000000000000011], ["favorites"]),
        headers=bearer_header(world.bearer),
    )
    assert r.json()["unavailable_tweet_ids"] == ["1100000000000000011"]


def test_ninety_and_1800_day_cuts_are_strict(world, store):
    ingest(
        store,
        [
            post(1100000000000000201, ALICE, "alice", "2026-08-22T12:30:00Z"),  # exactly 90 days
            post(1100000000000000202, ALICE, "alice", "2026-08-22T12:29:59Z"),  # a second more
            post(1100000000000000203, ALICE, "alice", "2021-12-16T12:30:00Z"),  # exactly 1800 days
            post(1100000000000000204, ALICE, "alice", "2021-12-16T12:29:59Z"),
        ],
    )
    ids = [1100000000000000201, 1100000000000000202, 1100000000000000203, 1100000000000000204]
    r = call(world.server, "totals", body(ids, ["impressions", "video_views"]), world.alice.oauth())
    data = r.json()
    assert data["unsupported_for_impressions_engagements_tweet_ids"] == [
        "1100000000000000202",
        "1100000000000000203",
        "1100000000000000204",
    ]
    assert data["unsupported_for_video_views_tweet_ids"] == ["1100000000000000204"]


def test_rate_limit_headers_on_every_answer_after_authentication(world, store):
    pending = make_user_credentials(store, make_app(store, "p", approved=False), ALICE)
    r = call(world.server, "totals", body([A1], ["favorites"]), pending.oauth())
    assert r.status_code == 403 and r.headers["x-per-minute-limit"] == "6000"
    r = call(world.server, "totals", b"{", world.alice.oauth())
    assert r.status_code == 400 and "x-per-minute-remaining" in r.headers
    r = call(
        world.server, "totals", body([A1], ["impressions"]), headers=bearer_header(world.bearer)
    )
    assert r.status_code == 403 and "x-per-minute-remaining" in r.headers


@pytest.mark.parametrize("path", ["/insights/engagement/totals/", "/oauth2/token/"])
def test_trailing_slashes_are_404_json_not_redirects(world, path):
    r = requests.post(world.server.url + path, allow_redirects=False, timeout=10)
    assert r.status_code == 404
    assert r.json()["errors"]


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip", True),
        ("GZIP;q=0.5", True),
        ("*", True),
        ("*;q=0, gzip", True),
        ("x-gzip;q=0, gzip", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("br, deflate", False),
        ("*;q=0", False),
        ("identity", False),
    ],
)
def test_accept_encoding_q_values(world, accept, gzipped):
    r = requests.post(
        world.server.path("totals"),
        data=json.dumps(body([A1], ["favorites"])),
        auth=world.alice.oauth(),
        headers={"Accept-Encoding": accept},
        stream=True,
        timeout=10,
    )
    raw = r.raw.read()
    assert (r.headers.get("content-encoding") == "gzip") is gzipped
    assert json.loads(gzip.decompress(raw) if gzipped else raw)["g"]


def test_gzip_bodies_of_several_members_and_zlib(world):
    payload = json.dumps(body([A1], ["favorites"])).encode()
    half = len(payload) // 2
    for data in (
        gzip.compress(payload[:half]) + gzip.compress(payload[half:]),
        zlib.compress(payload),
    ):
        r = requests.post(
            world.server.path("totals"),
            data=data,
            auth=world.alice.oauth(),
            headers={"Content-Encoding": "gzip"},
            timeout=10,
        )
        assert r.status_code == 200, r.text


def test_gzip_bombs_are_refused(world):
    bomb = gzip.compress(b" " * (8 * 1024 * 1024))
    r = requests.post(
        world.server.path("totals"),
        data=bomb,
        auth=world.alice.oauth(),
        headers={"Content-Encoding": "gzip"},
        timeout=10,
    )
    assert r.status_code == 413 and "larger than" in r.json()["errors"][0]


def test_oauth_version_nonce_and_timestamp_forms(world):
    def status(**kwargs):
        return call(world.server, "totals", body([A1], ["favorites"]), world.alice.oauth(**kwargs))

    assert status(nonce="n" * 255).status_code == 200
    r = status(nonce="m" * 256)
    assert r.json() == {"errors": [REASON.format("Malformed OAuth header")]}
    url = world.server.path("totals")
    header = signed_header(url, world.alice.app, world.alice.token, version="1.1")
    r = requests.post(
        url, json=body([A1], ["favorites"]), headers={"Authorization": header}, timeout=10
    )
    assert r.json() == {"errors": [REASON.format("Malformed OAuth header")]}
    r = status(timestamp="+" + str(int(time.time())))
    assert r.json() == {"errors": [REASON.format("Malformed OAuth header")]}


def test_reserved_grouping_names(world):
    for name in sorted(RESERVED_KEYS):
        r = call(
            world.server,
            "28hr",
            body([A1], ["favorites"], {name: {"group_by": ["tweet.id"]}}),
            world.alice.oauth(),
        )
        assert r.json() == {"errors": [f"Grouping name {name} is reserved"]}


def test_second_four_value_order_on_historical(world):
    levels = ["engagement.type", "tweet.id", "engagement.day", "engagement.hour"]
    r = call(
        world.server,
        "historical",
        body(
            [A1],
            ["impressions"],
            {"s": {"group_by": levels}},
            start="2026-11-19T08:00:00Z",
            end="2026-11-19T10:00:00Z",
        ),
        world.alice.oauth(),
    )
    assert r.json()["s"] == {"impressions": {str(A1): {"2026-11-19": {"08": "41", "09": "0"}}}}


def test_hour_profile_of_a_short_window_has_only_its_hours(world):
    r = call(
        world.server,
        "historical",
        body(
            [A1],
            ["impressions"],
            {"h": {"group_by": ["engagement.hour"]}},
            start="2026-11-19T22:00:00Z",
            end="2026-11-20T02:00:00Z",
        ),
        world.alice.oauth(),
    )
    assert list(r.json()["h"]) == ["00", "01", "22", "23"]


def test_null_start_is_a_400_and_fractions_of_any_length_parse(world):
    r = call(world.server, "historical", body([A1], ["favorites"], start=None), world.alice.oauth())
    assert r.json() == {"errors": ["start must be a date string"]}
    r = call(
        world.server,
        "historical",
        body(
            [A1],
            ["favorites"],
            start="2026-11-19T08:00:00.123456789012Z",
            end="2026-11-19T09:00:00+05:30",
        ),
        world.alice.oauth(),
    )
    assert r.status_code == 400 and r.json()["errors"] == ["start must be before end"]
    r = call(
        world.server,
        "historical",
        body(
            [A1],
            ["favorites"],
            start="2026-11-19T08:00:00.123456789012Z",
            end="2026-11-19T14:30:00+05:30",
        ),
        world.alice.oauth(),
    )
    assert (r.json()["start"], r.json()["end"]) == ("2026-11-19T08:00:00Z", "2026-11-19T09:00:00Z")


def test_app_only_sees_deleted_posts_of_others_as_unavailable(world):
    r = call(
        world.server,
        "totals",
        body([B_DEL, UNKNOWN], ["favorites"]),
        headers=bearer_header(world.bearer),
    )
    assert r.status_code == 200
    assert r.json()["unavailable_tweet_ids"] == [str(B_DEL), str(UNKNOWN)]
    assert r.json()["g"] == {}


def test_ingest_takes_any_handle_and_a_change_of_author(world, store):
    ingest(
        store,
        [
            post(1100000000000000301, 77, "Renée Ünïcode handle with spaces"),
            post(1100000000000000301, ALICE, "alice"),
        ],
    )  # the post changes hands
    r = call(
        world.server, "totals", body([1100000000000000301], ["favorites"]), world.alice.oauth()
    )
    assert r.status_code == 200
    assert store.get_user(77).handle == "Renée Ünïcode handle with spaces"
