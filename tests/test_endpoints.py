"""The engagement endpoints over real HTTP: answers, partial results, access, precedence."""

from __future__ import annotations

import gzip
import json
import time

import pytest
import requests
from helpers import (
    A1,
    A2,
    A_2015,
    A_ANCIENT,
    A_DEL,
    A_OLD,
    A_PROT,
    ALICE,
    B1,
    B_DEL,
    B_PROT,
    UNKNOWN,
    Server,
    bearer_for,
    bearer_header,
    body,
    call,
    make_app,
    make_user_credentials,
    running,
)
from openapi_spec_validator import validate

from engagement_api.clock import FrozenClock
from engagement_api.server import create_app

TOTALS_METRICS = [
    "impressions",
    "engagements",
    "favorites",
    "retweets",
    "quote_tweets",
    "replies",
    "video_views",
]


def test_totals_per_post_counts_are_strings_and_match_events(world):
    r = call(world.server, "totals", body([A1, B1], TOTALS_METRICS), world.alice.oauth())
    # alice may not read bob's post with her user token
    assert r.status_code == 403
    r = call(world.server, "totals", body([A1], TOTALS_METRICS), world.alice.oauth())
    assert r.status_code == 200, r.text
    assert r.json() == {
        "g": {
            str(A1): {
                "impressions": "1048",  # 1000 + 1 + 40 + 7; promoted impressions excluded
                "engagements": "26",  # 12 + 4 favorites, 3 replies, 5 url clicks, 2 other
                "favorites": "16",
                "retweets": "0",
                "quote_tweets": "0",
                "replies": "3",
                "video_views": "50",  # vid-1: A1's 30 and B1's 20
            }
        }
    }
    assert r.headers["content-type"] == "application/json"
    assert "start" not in r.json()


def test_totals_grand_totals_and_metric_first(world):
    groupings = {
        "Grand Totals": {"group_by": ["engagement.type"]},
        "by-type": {"group_by": ["engagement.type", "tweet.id"]},
        "by-post": {"group_by": ["tweet.id"]},
    }
    r = call(
        world.server,
        "totals",
        body([A1, A2], ["favorites", "replies"], groupings),
        world.alice.oauth(),
    )
    assert r.json() == {
        "Grand Totals": {"favorites": "18", "replies": "3"},
        "by-type": {
            "favorites": {str(A1): "16", str(A2): "2"},
            "replies": {str(A1): "3", str(A2): "0"},
        },
        "by-post": {str(A1): "19", str(A2): "2"},
    }


def test_bearer_reads_public_metrics_of_anyones_posts(world):
    r = call(
        world.server,
        "totals",
        body([B1, A1], ["favorites", "retweets", "quote_tweets", "replies", "video_views"]),
        headers=bearer_header(world.bearer),
    )
    assert r.status_code == 200, r.text
    g = r.json()["g"]
    assert list(g) == [str(B1), str(A1)]
    assert g[str(B1)] == {
        "favorites": "7",
        "retweets": "2",
        "quote_tweets": "0",
        "replies": "0",
        "video_views": "50",
    }


def test_consumer_only_oauth1_is_app_only(world):
    r = call(world.server, "totals", body([B1], ["favorites"]), world.app_only.oauth())
    assert r.status_code == 200
    assert r.json() == {"g": {str(B1): {"favorites": "7"}}}
    r = call(world.server, "totals", body([B1], ["impressions"]), world.app_only.oauth())
    assert r.status_code == 403
    assert r.json() == {"errors": ["Forbidden to access metrics: impressions"]}


@pytest.mark.parametrize("endpoint", ["28hr", "historical"])
def test_app_only_cannot_use_time_series_endpoints(world, endpoint):
    r = call(
        world.server,
        endpoint,
        body([B1], ["favorites", "impressions"]),
        headers=bearer_header(world.bearer),
    )
    assert r.status_code == 403
    assert r.json() == {"errors": ["Forbidden to access metrics: favorites, impressions"]}


def test_app_only_private_metrics_on_totals_are_403(world):
    r = call(
        world.server,
        "totals",
        body([B1], ["favorites", "engagements", "impressions"]),
        headers=bearer_header(world.bearer),
    )
    assert r.status_code == 403
    assert r.json() == {"errors": ["Forbidden to access metrics: engagements, impressions"]}


def test_user_context_on_someone_elses_posts_is_403_listing_them(world):
    r = call(world.server, "totals", body([B1, A1, B_PROT], ["favorites"]), world.alice.oauth())
    assert r.status_code == 403
    assert r.json() == {"errors": [f"Forbidden to access tweets: {B1}, {B_PROT}"]}
    for endpoint in ("28hr", "historical"):
        r = call(world.server, endpoint, body([B1], ["favorites"]), world.alice.oauth())
        assert r.json() == {"errors": [f"Forbidden to access tweets: {B1}"]}


def test_deleted_and_unknown_posts_of_others_are_unavailable_not_forbidden(world):
    r = call(
        world.server,
        "totals",
        body([A1, B_DEL, UNKNOWN, A_DEL], ["favorites"]),
        world.alice.oauth(),
    )
    assert r.status_code == 200
    assert r.json() == {
        "unavailable_tweet_ids": [str(B_DEL), str(UNKNOWN), str(A_DEL)],
        "errors": ["3 Tweet ID(s) are unavailable"],
        "g": {str(A1): {"favorites": "16"}},
    }


def test_all_unavailable_is_a_200_with_empty_groupings(world):
    r = call(world.server, "28hr", body([UNKNOWN], ["impressions"]), world.alice.oauth())
    assert r.status_code == 200
    data = r.json()
    assert data["unavailable_tweet_ids"] == [str(UNKNOWN)]
    assert data["errors"] == ["1 Tweet ID(s) are unavailable"]
    assert data["g"] == {}
    assert data["start"] == "2026-11-19T08:00:00Z"


@pytest.mark.parametrize("endpoint", ["totals", "28hr", "historical"])
def test_protected_posts_are_a_400_even_for_their_author(world, endpoint):
    r = call(world.server, endpoint, body([A1, A_PROT], ["favorites"]), world.alice.oauth())
    assert r.status_code == 400
    assert r.json() == {"errors": ["Tweet ID(s) are unavailable"]}


def test_protected_posts_are_a_400_for_app_only(world):
    r = call(
        world.server,
        "totals",
        body([B1, B_PROT], ["favorites"]),
        headers=bearer_header(world.bearer),
    )
    assert r.status_code == 400
    assert r.json() == {"errors": ["Tweet ID(s) are unavailable"]}


def test_ninety_day_rule_on_totals(world):
    r = call(
        world.server, "totals", body([A1, A_OLD], ["impressions", "favorites"]), world.alice.oauth()
    )
    assert r.status_code == 200
    assert r.json() == {
        "unsupported_for_impressions_engagements_tweet_ids": [str(A_OLD)],
        "errors": [
            "Impressions & engagements for tweets older than 90 days "
            "(2026-08-22T12:30:00Z) are not supported"
        ],
        "g": {str(A1): {"impressions": "1048", "favorites": "16"}, str(A_OLD): {"favorites": "3"}},
    }


def test_ninety_day_rule_does_not_apply_to_time_series(world, server):
    server.clock.instant = 1783000000  # 2026-07-02T...: A_OLD is one day old
    r = call(
        world.server,
        "historical",
        body([A_OLD], ["impressions"], start="2026-07-01", end="2026-07-02T12:00:00Z"),
        world.alice.oauth(),
    )
    assert r.status_code == 200, r.text
    assert "unsupported_for_impressions_engagements_tweet_ids" not in r.json()


def test_video_views_older_than_1800_days_on_every_endpoint(world):
    r = call(
        world.server,
        "totals",
        body([A1, A_ANCIENT], ["video_views", "favorites"]),
        world.alice.oauth(),
    )
    assert r.json() == {
        "unsupported_for_video_views_tweet_ids": [str(A_ANCIENT)],
        "errors": [
            "Video views for tweets older than 1800 days (2021-12-16T12:30:00Z) are not supported"
        ],
        "g": {
            str(A1): {"video_views": "50", "favorites": "16"},
            str(A_ANCIENT): {"favorites": "4"},
        },
    }
    r = call(world.server, "28hr", body([A_ANCIENT], ["video_views"]), world.alice.oauth())
    data = r.json()
    assert data["unsupported_for_video_views_tweet_ids"] == [str(A_ANCIENT)]
    assert data["g"] == {}


def test_every_partial_list_together_in_documented_order(world):
    r = call(
        world.server,
        "totals",
        body([A_OLD, UNKNOWN, A_ANCIENT], ["engagements", "video_views"]),
        world.alice.oauth(),
    )
    data = r.json()
    assert data["unavailable_tweet_ids"] == [str(UNKNOWN)]
    assert data["unsupported_for_impressions_engagements_tweet_ids"] == [str(A_OLD), str(A_ANCIENT)]
    assert data["unsupported_for_video_views_tweet_ids"] == [str(A_ANCIENT)]
    assert [e.split(" ")[0] for e in data["errors"]] == ["1", "Impressions", "Video"]
    assert data["g"] == {str(A_OLD): {"video_views": "0"}}


def test_28hr_hourly_series_is_zero_filled_with_29_buckets(world):
    groupings = {
        "ts": {"group_by": ["tweet.id", "engagement.type", "engagement.day", "engagement.hour"]}
    }
    r = call(world.server, "28hr", body([A1], ["impressions"], groupings), world.alice.oauth())
    data = r.json()
    assert data["start"] == "2026-11-19T08:00:00Z"
    assert data["end"] == "2026-11-20T13:00:00Z"
    days = data["ts"][str(A1)]["impressions"]
    assert list(days) == ["2026-11-19", "2026-11-20"]
    assert list(days["2026-11-19"]) == [f"{h:02d}" for h in range(8, 24)]
    assert list(days["2026-11-20"]) == [f"{h:02d}" for h in range(13)]
    assert days["2026-11-19"]["08"] == "41"  # the event at exactly start counts
    assert days["2026-11-19"]["09"] == "0"  # promoted impressions are not counted
    assert days["2026-11-20"]["12"] == "7"  # the current, partial hour
    assert sum(len(h) for h in days.values()) == 29


def test_28hr_totals_daily_and_hour_of_day(world):
    groupings = {
        "totals": {"group_by": ["tweet.id", "engagement.type"]},
        "daily": {"group_by": ["engagement.type", "engagement.day"]},
        "hour_of_day": {"group_by": ["tweet.id", "engagement.type", "engagement.hour"]},
    }
    r = call(
        world.server,
        "28hr",
        body([A1], ["impressions", "engagements"], groupings),
        world.alice.oauth(),
    )
    data = r.json()
    assert data["totals"] == {str(A1): {"impressions": "48", "engagements": "26"}}
    assert data["daily"] == {
        "impressions": {"2026-11-19": "41", "2026-11-20": "7"},
        "engagements": {"2026-11-19": "24", "2026-11-20": "2"},
    }
    profile = data["hour_of_day"][str(A1)]["impressions"]
    assert list(profile) == [f"{h:02d}" for h in range(24)]  # flat "HH" keys
    assert profile["08"] == "41" and profile["12"] == "7" and profile["00"] == "0"


def test_hour_of_day_sums_the_same_hour_across_days(world, server):
    server.clock.instant = 1763726400  # 2025-11-21T12:00:00Z, nothing yet; move on:
    r = call(
        world.server,
        "historical",
        body(
            [A1],
            ["impressions"],
            {"h": {"group_by": ["engagement.hour"]}},
            start="2026-11-19T00:00:00Z",
            end="2026-11-20T00:00:00Z",
        ),
        world.alice.oauth(),
    )
    assert r.status_code == 400  # end in the future of that clock
    server.clock.instant = 1764000000 + 365 * 86400  # well after the events
    r = call(
        world.server,
        "historical",
        body(
            [A1, A2],
            ["impressions"],
            {"h": {"group_by": ["engagement.hour"]}},
            start="2026-11-01T00:00:00Z",
            end="2026-11-21T00:00:00Z",
        ),
        world.alice.oauth(),
    )
    profile = r.json()["h"]
    assert len(profile) == 24
    assert profile["08"] == "41" and profile["10"] == "500" and profile["07"] == "1000"


def test_historical_default_window_is_previous_four_weeks(world):
    r = call(world.server, "historical", body([A2], ["impressions"]), world.alice.oauth())
    data = r.json()
    assert data["start"] == "2026-10-23T13:00:00Z"
    assert data["end"] == "2026-11-20T13:00:00Z"
    assert data["g"] == {str(A2): {"impressions": "500"}}


def test_historical_rounds_to_inclusive_hours(world):
    r = call(
        world.server,
        "historical",
        body([A2], ["impressions"], start="2026-11-02T10:24:00Z", end="2026-11-10T08:37:00Z"),
        world.alice.oauth(),
    )
    data = r.json()
    assert (data["start"], data["end"]) == ("2026-11-02T10:00:00Z", "2026-11-10T09:00:00Z")
    assert data["g"][str(A2)]["impressions"] == "500"


def test_historical_daily_buckets_sum_only_window_hours(world):
    groupings = {"d": {"group_by": ["tweet.id", "engagement.type", "engagement.day"]}}
    r = call(
        world.server,
        "historical",
        body(
            [A1],
            ["impressions"],
            groupings,
            start="2026-11-19T08:00:00Z",
            end="2026-11-20T01:00:00+00:00",
        ),
        world.alice.oauth(),
    )
    assert r.json()["d"] == {str(A1): {"impressions": {"2026-11-19": "41", "2026-11-20": "0"}}}


def test_favorites_replies_retweets_read_zero_before_2015_09_15(world):
    groupings = {
        "d": {"group_by": ["engagement.type", "engagement.day"]},
        "t": {"group_by": ["engagement.type"]},
    }
    r = call(
        world.server,
        "historical",
        body(
            [A_2015],
            ["favorites", "impressions", "engagements"],
            groupings,
            start="2015-09-05",
            end="2015-09-25",
        ),
        world.alice.oauth(),
    )
    data = r.json()
    assert data["t"] == {"favorites": "8", "impressions": "60", "engagements": "14"}
    assert data["d"]["favorites"]["2015-09-10"] == "0"
    assert data["d"]["favorites"]["2015-09-20"] == "8"
    # /totals is not concerned
    r = call(world.server, "totals", body([A_2015], ["favorites"]), world.alice.oauth())
    assert r.json()["g"] == {str(A_2015): {"favorites": "14"}}


def test_video_views_on_time_series_are_the_posts_own(world):
    r = call(world.server, "28hr", body([A1], ["video_views", "media_views"]), world.alice.oauth())
    assert r.json()["g"] == {str(A1): {"video_views": "30", "media_views": "50"}}


@pytest.mark.parametrize(
    ("endpoint", "payload", "text"),
    [
        ("totals", b"{not json", "Request body is not valid JSON"),
        ("totals", b"[1, 2]", "Request body must be a JSON object"),
        (
            "totals",
            {"engagement_types": ["favorites"], "groupings": {"g": {"group_by": ["tweet.id"]}}},
            "tweet_ids is required",
        ),
        ("totals", body([], ["favorites"]), "tweet_ids must not be empty"),
        (
            "totals",
            body(range(1, 252), ["favorites"]),
            "Too many Tweet IDs: 251 given, at most 250 per request",
        ),
        (
            "28hr",
            body(range(1, 27), ["favorites"]),
            "Too many Tweet IDs: 26 given, at most 25 per request",
        ),
        ("totals", {**body([A1], ["favorites"]), "tweet_ids": ["12a"]}, 'Invalid Tweet ID: "12a"'),
        ("totals", {**body([A1], ["favorites"]), "tweet_ids": [1.5]}, "Invalid Tweet ID: 1.5"),
        ("totals", {**body([A1], ["favorites"]), "tweet_ids": [True]}, "Invalid Tweet ID: true"),
        (
            "totals",
            {**body([A1], ["favorites"]), "tweet_ids": ["0123"]},
            'Invalid Tweet ID: "0123"',
        ),
        (
            "totals",
            {**body([A1], ["favorites"]), "tweet_ids": [str(2**63)]},
            f'Invalid Tweet ID: "{2**63}"',
        ),
        ("totals", body([A1], ["likes"]), "Unsupported engagement type: likes"),
        ("totals", body([A1], ["Favorites"]), "Unsupported engagement type: Favorites"),
        ("totals", body([A1], ["media_clicks"]), "Unsupported engagement type: media_clicks"),
        (
            "totals",
            body([A1], ["url_clicks"]),
            "Engagement type url_clicks is not available on /totals",
        ),
        (
            "28hr",
            body([A1], ["quote_tweets"]),
            "Engagement type quote_tweets is not available on /28hr",
        ),
        (
            "totals",
            body(
                [A1],
                [],
            ),
            "engagement_types must not be empty",
        ),
        (
            "totals",
            {"tweet_ids": [str(A1)], "engagement_types": ["favorites"]},
            "groupings is required",
        ),
        (
            "totals",
            {**body([A1], ["favorites"]), "groupings": {}},
            "groupings must name at least one grouping",
        ),
        (
            "totals",
            body([A1], ["favorites"], {n: {"group_by": ["tweet.id"]} for n in "abcd"}),
            "Too many groupings: at most 3",
        ),
        (
            "totals",
            body([A1], ["favorites"], {"g": {"group_by": ["engagement.day"]}}),
            "Invalid group_by for /totals: engagement.day",
        ),
        (
            "28hr",
            body([A1], ["favorites"], {"g": {"group_by": ["tweet.id", "tweet.id"]}}),
            "Grouping g: group_by repeats tweet.id",
        ),
        (
            "28hr",
            body(
                [A1],
                ["favorites"],
                {
                    "g": {
                        "group_by": [
                            "engagement.day",
                            "tweet.id",
                            "engagement.type",
                            "engagement.hour",
                        ]
                    }
                },
            ),
            None,
        ),
        (
            "28hr",
            body(
                [A1],
                ["favorites"],
                {
                    "a": {
                        "group_by": [
                            "tweet.id",
                            "engagement.type",
                            "engagement.day",
                            "engagement.hour",
                        ]
                    },
                    "b": {
                        "group_by": [
                            "engagement.type",
                            "tweet.id",
                            "engagement.day",
                            "engagement.hour",
                        ]
                    },
                },
            ),
            "Only one grouping per request may have 4 group_by values",
        ),
        (
            "28hr",
            body([A1], ["favorites"], {"g": {"group_by": ["engagement.hour", "engagement.day"]}}),
            "Grouping g: engagement.day must come before engagement.hour",
        ),
        (
            "28hr",
            body([A1], ["favorites"], {"start": {"group_by": ["tweet.id"]}}),
            "Grouping name start is reserved",
        ),
        (
            "28hr",
            body([A1], ["favorites"], {"g": ["tweet.id"]}),
            "Grouping g must have a non-empty group_by array",
        ),
        (
            "historical",
            body([A1], ["favorites"], start="2026-11-01", end="2026-11-21"),
            "end must not be in the future",
        ),
        (
            "historical",
            body([A1], ["favorites"], start="2026-10-01", end="2026-11-01"),
            "The window from start to end must not be longer than 4 weeks",
        ),
        (
            "historical",
            body([A1], ["favorites"], start="2014-08-31T23:00:00Z", end="2014-09-02"),
            "start must not be before 2014-09-01T00:00:00Z",
        ),
        (
            "historical",
            body([A1], ["favorites"], start="2026-11-02", end="2026-11-02"),
            "start must be before end",
        ),
        (
            "historical",
            body([A1], ["favorites"], start="yesterday"),
            "Invalid start: yesterday (expected YYYY-MM-DD or an ISO 8601 date-time with a zone)",
        ),
        (
            "historical",
            body([A1], ["favorites"], start="2026-11-02T10:00:00"),
            "Invalid start: 2026-11-02T10:00:00 (expected YYYY-MM-DD or an ISO 8601 date-time "
            "with a zone)",
        ),
        ("historical", body([A1], ["favorites"], end=20261102), "end must be a date string"),
    ],
)
def test_invalid_bodies_are_400_with_a_precise_message(world, endpoint, payload, text):
    r = call(world.server, endpoint, payload, world.alice.oauth())
    assert r.status_code == 400
    errors = r.json()["errors"]
    if text is None:
        assert errors[0].startswith("Grouping g: 4 group_by values must be in the order")
    else:
        assert errors == [text]


def test_window_limits_exactly_at_the_edges_are_fine(world):
    ok = [
        dict(start="2026-10-01T00:00:00Z", end="2026-10-29T00:00:00Z"),  # exactly 28 days
        dict(start="2014-09-01", end="2014-09-02"),  # the earliest start
        dict(end="2026-11-20T12:30:00Z"),  # end equal to now rounds up
    ]
    for window in ok:
        r = call(
            world.server, "historical", body([A1], ["favorites"], **window), world.alice.oauth()
        )
        assert r.status_code == 200, (window, r.text)
    r = call(
        world.server,
        "historical",
        body([A1], ["favorites"], end="2026-11-20T12:30:00Z"),
        world.alice.oauth(),
    )
    assert (r.json()["start"], r.json()["end"]) == ("2026-10-23T13:00:00Z", "2026-11-20T13:00:00Z")
    r = call(
        world.server,
        "historical",
        body([A1], ["favorites"], start="2026-11-10"),
        world.alice.oauth(),
    )
    assert (r.json()["start"], r.json()["end"]) == ("2026-11-10T00:00:00Z", "2026-11-20T13:00:00Z")
    r = call(
        world.server, "historical", body([A1], ["favorites"], end="2014-09-10"), world.alice.oauth()
    )
    assert r.json()["start"] == "2014-09-01T00:00:00Z"


def test_ids_as_numbers_and_padded_strings_and_duplicates(world):
    payload = {
        "tweet_ids": [A1, f" {A1}\n", str(A2)],
        "engagement_types": ["favorites", "favorites"],
        "groupings": {"g": {"group_by": ["Tweet.id", "ENGAGEMENT.TYPE"]}},
    }
    r = call(world.server, "totals", payload, world.alice.oauth())
    assert r.status_code == 200
    assert r.json() == {"g": {str(A1): {"favorites": "16"}, str(A2): {"favorites": "2"}}}


def test_unknown_top_level_fields_and_start_on_totals_are_ignored(world):
    r = call(
        world.server,
        "totals",
        body([A1], ["favorites"], start="nonsense", extra=1),
        world.alice.oauth(),
    )
    assert r.status_code == 200, r.text
    # the answer of the same request without them: no window, no error, no echo
    assert r.json() == {"g": {str(A1): {"favorites": "16"}}}


def test_unapproved_app_is_403_before_body_validation(world, store):
    app = make_app(store, "pending", approved=False)
    creds = make_user_credentials(store, app, ALICE)
    r = call(world.server, "totals", b"not json", creds.oauth())
    assert r.status_code == 403
    assert r.json() == {"errors": ["Your application id is not authorized."]}
    store.set_app_approved(app.id, True)
    r = call(world.server, "totals", body([A1], ["favorites"]), creds.oauth())
    assert r.status_code == 200


def test_precedence_auth_before_validation_before_rights(world, store):
    """Each request fails two checks; the body names the one that runs first (RULES.md 10)."""
    r = call(world.server, "totals", b"not json")  # no credentials and no JSON
    assert r.status_code == 401
    assert r.json() == {
        "errors": ["Your account could not be authenticated. Reason: Unknown Authorization Type"]
    }
    # an unapproved app, asking beyond app-only rights: both are a 403
    pending = bearer_for(store, make_app(store, "pending", approved=False))
    r = call(world.server, "totals", body([A1], ["impressions"]), headers=bearer_header(pending))
    assert r.status_code == 403
    assert r.json() == {"errors": ["Your application id is not authorized."]}
    # quote_tweets is not a /28hr metric, and /28hr is beyond app-only rights
    r = call(
        world.server, "28hr", body([B1], ["quote_tweets"]), headers=bearer_header(world.bearer)
    )
    assert r.status_code == 400
    assert r.json() == {"errors": ["Engagement type quote_tweets is not available on /28hr"]}
    # impressions are beyond app-only rights, and B_PROT is protected
    r = call(
        world.server, "totals", body([B_PROT], ["impressions"]), headers=bearer_header(world.bearer)
    )
    assert r.status_code == 403
    assert r.json() == {"errors": ["Forbidden to access metrics: impressions"]}
    # B_PROT is bob's, not alice's, and protected
    r = call(world.server, "totals", body([B_PROT], ["favorites"]), world.alice.oauth())
    assert r.status_code == 403
    assert r.json() == {"errors": [f"Forbidden to access tweets: {B_PROT}"]}


def test_gzip_responses_for_every_status(world):
    for payload, status in ((body([A1], ["favorites"]), 200), (b"{", 400)):
        raw = requests.post(
            world.server.path("totals"),
            data=payload if isinstance(payload, bytes) else json.dumps(payload),
            auth=world.alice.oauth(),
            headers={"Accept-Encoding": "gzip"},
            stream=True,
            timeout=10,
        )
        assert raw.status_code == status
        assert raw.headers["content-encoding"] == "gzip"
        assert json.loads(gzip.decompress(raw.raw.read()))
    r = requests.post(
        world.server.path("totals"),
        data=json.dumps(body([A1], ["favorites"])),
        auth=world.alice.oauth(),
        headers={"Accept-Encoding": "identity"},
        timeout=10,
    )
    assert "content-encoding" not in r.headers


def test_gzip_request_bodies(world):
    payload = gzip.compress(json.dumps(body([A1], ["favorites"])).encode())
    r = requests.post(
        world.server.path("totals"),
        data=payload,
        auth=world.alice.oauth(),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 200
    assert r.json()["g"][str(A1)]["favorites"] == "16"
    r = requests.post(
        world.server.path("totals"),
        data=payload[:-8],
        auth=world.alice.oauth(),
        headers={"Content-Encoding": "gzip"},
        timeout=10,
    )
    assert r.status_code == 400
    assert "gzip" in r.json()["errors"][0]


def test_unknown_path_and_wrong_method_answer_json(world):
    r = requests.post(f"{world.server.url}/insights/engagement/weekly", timeout=10)
    assert r.status_code == 404 and r.json()["errors"]
    r = requests.get(world.server.path("totals"), timeout=10)
    assert r.status_code == 405 and r.json()["errors"]
    assert r.headers["content-type"] == "application/json"


def allowance(response) -> tuple[int, dict[str, str]]:
    """The status and the rate-limit headers of an answer."""
    names = ("x-per-minute-limit", "x-per-minute-remaining", "ratelimit", "retry-after")
    return response.status_code, {n: response.headers[n] for n in names if n in response.headers}


def test_rate_limit_headers_and_429(store, clock):
    """With the wall clock frozen 15 s into a minute, an allowance of 3 counts down, the 4th
    request is refused, and the next minute starts afresh."""
    wall = FrozenClock(float(int(time.time()) // 60 * 60 + 15))
    token = bearer_header(bearer_for(store, make_app(store, "limited", rate_limit=3)))
    with running(create_app(store, clock, wall_clock=wall)) as url:
        server = Server(url, store, clock)
        answers = [
            call(server, "totals", body([A1], ["favorites"]), headers=token) for _ in range(4)
        ]
        wall.instant += 50  # 5 s into the next minute
        later = call(server, "totals", body([A1], ["favorites"]), headers=token)

    def left(remaining: int, reset: int = 45) -> dict[str, str]:
        return {
            "x-per-minute-limit": "3",
            "x-per-minute-remaining": str(remaining),
            "ratelimit": f'"per-minute";r={remaining};t={reset}',
        }

    assert [allowance(r) for r in answers] == [
        (200, left(2)),
        (200, left(1)),
        (200, left(0)),
        (429, {**left(0), "retry-after": "45"}),
    ]
    assert answers[-1].json() == {"errors": ["Exceeded rate limit: at most 3 requests per minute"]}
    assert answers[-1].headers["ratelimit-policy"] == '"per-minute";q=3;w=60'
    assert allowance(later) == (200, left(2, reset=55))


def test_openapi_document_is_served(world):
    r = requests.get(f"{world.server.url}/openapi.json", timeout=10)
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    totals = doc["paths"]["/insights/engagement/totals"]["post"]
    schema = totals["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["tweet_ids"]["maxItems"] == 250
    assert "quote_tweets" not in json.dumps(doc["paths"]["/insights/engagement/28hr"])
    validate(doc)  # a valid OpenAPI 3.1 document
