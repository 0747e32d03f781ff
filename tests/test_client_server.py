"""The client against the real server (in-thread, on both store engines) with the small
world of tests/helpers.py: its merged answers are the server's own answers for one request,
whatever the batches, groupings and partial results."""

from __future__ import annotations

import asyncio
import io
import itertools
import json

import pytest
from click.testing import CliRunner
from helpers import (
    A1,
    A2,
    A_2015,
    A_ANCIENT,
    A_DEL,
    A_OLD,
    A_PROT,
    B1,
    B_DEL,
    B_PROT,
    UNKNOWN,
    body,
    call,
)

from engagement_api.cli import main
from engagement_api.client import (
    ApiError,
    AsyncEngagementClient,
    EngagementClient,
    ForbiddenPosts,
    RetryPolicy,
    TransportError,
)

NOW = "2026-11-20T12:30:00Z"
ALICE_IDS = [A1, A2, A_OLD, A_ANCIENT, A_DEL, A_2015]
ALL_TOTALS = [
    "impressions",
    "engagements",
    "favorites",
    "retweets",
    "quote_tweets",
    "replies",
    "video_views",
]
SERIES = [
    "impressions",
    "engagements",
    "favorites",
    "replies",
    "video_views",
    "url_clicks",
    "media_views",
]
PADS = [1200000000000000000 + i for i in range(300)]  # unknown ids: more batches


def alice_client(world, **options) -> EngagementClient:
    creds = world.alice
    return EngagementClient(
        world.server.url,
        creds.app.consumer_key,
        creds.app.consumer_secret,
        creds.token.token,
        creds.token.secret,
        **options,
    )


def direct(world, endpoint, ids, metrics, groupings, creds=None, **extra) -> dict:
    answer = call(
        world.server,
        endpoint,
        body(ids, metrics, groupings, **extra),
        auth=(creds or world.alice).oauth(),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def without_pads(answer: dict) -> dict:
    """The answer as if the padding ids had not been asked."""
    pads = {str(p) for p in PADS}
    kept = dict(answer)
    listed = [i for i in kept.pop("unavailable_tweet_ids", []) if i not in pads]
    kept.pop("errors", None)
    if listed:
        kept["unavailable_tweet_ids"] = listed
    errors = [e for e in answer.get("errors", []) if "Tweet ID(s) are unavailable" not in e]
    if listed:
        errors.insert(0, f"{len(listed)} Tweet ID(s) are unavailable")
    if errors:
        kept["errors"] = errors
    return kept


GROUPINGS = [
    {
        "a": {"group_by": ["tweet.id", "engagement.type"]},
        "b": {"group_by": ["engagement.type"]},
        "c": {"group_by": ["engagement.type", "tweet.id"]},
    },
    {
        "d": {"group_by": ["tweet.id", "engagement.type", "engagement.day", "engagement.hour"]},
        "e": {"group_by": ["engagement.type", "engagement.hour"]},
        "f": {"group_by": ["tweet.id"]},
    },
    {
        "g": {"group_by": ["engagement.type", "tweet.id", "engagement.day", "engagement.hour"]},
        "h": {"group_by": ["engagement.day", "engagement.type"]},
        "i": {"group_by": ["tweet.id", "engagement.hour", "engagement.type"]},
    },
]


def test_totals_over_many_batches_equal_one_request(world):
    asked = [*ALICE_IDS[:3], *PADS, *ALICE_IDS[3:]]  # two batches of 250 on /totals
    with alice_client(world) as client:
        result = client.totals(asked, ALL_TOTALS, GROUPINGS[0])
    assert result.stats.requests == 2
    expected = direct(world, "totals", ALICE_IDS, ALL_TOTALS, GROUPINGS[0])
    assert without_pads(result.answer()) == expected
    assert result.unavailable_tweet_ids == [*map(str, PADS), str(A_DEL)]
    assert result.unsupported_for_impressions_engagements_tweet_ids == [
        str(A_OLD),
        str(A_ANCIENT),
        str(A_2015),
    ]
    assert result.unsupported_for_video_views_tweet_ids == [str(A_ANCIENT), str(A_2015)]
    assert result.errors[0] == f"{1 + len(PADS)} Tweet ID(s) are unavailable"
    assert len(result.errors) == 3
    assert result.answered == 5 and result.summary()["unavailable"] == 301


@pytest.mark.parametrize("shape", range(len(GROUPINGS)))
def test_series_over_many_batches_equal_one_request(world, shape):
    groupings = GROUPINGS[shape]
    asked = [*ALICE_IDS, *PADS[:40]]  # three batches of 25
    with alice_client(world) as client:
        hours = client.hours28(asked, SERIES, groupings)
        weeks = client.historical(
            asked, SERIES, "2026-10-25T05:20:00Z", "2026-11-20T12:00:00Z", groupings
        )
    assert hours.stats.requests == 2  # 46 ids: 25 + 21
    assert without_pads(hours.answer()) == direct(world, "28hr", ALICE_IDS, SERIES, groupings)
    assert without_pads(weeks.answer()) == direct(
        world,
        "historical",
        ALICE_IDS,
        SERIES,
        groupings,
        start="2026-10-25T05:20:00Z",
        end="2026-11-20T12:00:00Z",
    )


def test_a_long_range_is_every_window_added_up(world):
    """Six windows (2026-07-01 .. 2026-11-20): each hour once, days cut by a window boundary
    added from both sides; the answer equals the sum of the server's answers window by
    window."""
    grouping = {"days": {"group_by": ["tweet.id", "engagement.type", "engagement.day"]}}
    with alice_client(world) as client:
        result = client.historical(
            ALICE_IDS, SERIES, "2026-07-01T07:00:00Z", "2026-11-20T09:00:00Z", grouping
        )
    assert result.stats.requests == 6  # 142 days and 2 hours: 6 windows
    assert (result.start, result.end) == ("2026-07-01T07:00:00Z", "2026-11-20T09:00:00Z")
    expected: dict = {}
    edges = [
        "2026-07-01T07:00:00Z",
        "2026-07-29T07:00:00Z",
        "2026-08-26T07:00:00Z",
        "2026-09-23T07:00:00Z",
        "2026-10-21T07:00:00Z",
        "2026-11-18T07:00:00Z",
        "2026-11-20T09:00:00Z",
    ]
    for start, end in itertools.pairwise(edges):
        answer = direct(world, "historical", ALICE_IDS, SERIES, grouping, start=start, end=end)
        for tweet_id, metrics in answer["days"].items():
            for metric, days in metrics.items():
                for day, count in days.items():
                    into = expected.setdefault(tweet_id, {}).setdefault(metric, {})
                    into[day] = into.get(day, 0) + int(count)
    assert result.data["days"] == expected
    assert expected[str(A2)]["impressions"]["2026-11-02"] == 500
    assert expected[str(A1)]["favorites"]["2026-11-19"] == 16
    day_keys = list(expected[str(A1)]["impressions"])
    assert len(day_keys) == len(set(day_keys)) == 143


def test_protected_posts_are_found_and_the_rest_answered(world):
    asked = [A1, *PADS[:30], A_PROT, A2, *PADS[30:60]]
    with alice_client(world) as client:
        result = client.historical(asked, ["impressions", "favorites"], "2026-11-01", "2026-11-20")
    assert result.protected_tweet_ids == [str(A_PROT)]
    assert result.stats.splits > 0
    expected = direct(
        world,
        "historical",
        [A1, A2],
        ["impressions", "favorites"],
        None,
        start="2026-11-01",
        end="2026-11-20",
    )
    assert result.data["by_post"] == {
        tid: {
            m: sum(int(v) for v in days.values()) if isinstance(days, dict) else int(days)
            for m, days in metrics.items()
        }
        for tid, metrics in expected["g"].items()
    }
    assert result.answered == 2


def test_other_users_posts_are_refused_or_dropped(world):
    asked = [A1, B1, A_PROT, B_PROT, B_DEL, A2, UNKNOWN]
    with alice_client(world) as client, pytest.raises(ForbiddenPosts) as refused:
        client.totals(asked, ["favorites"])
    assert refused.value.status == 403 and refused.value.ids == [str(B1), str(B_PROT)]
    assert refused.value.errors == [f"Forbidden to access tweets: {B1}, {B_PROT}"]
    with alice_client(world, drop_forbidden=True) as client:
        result = client.totals(asked, ["favorites", "retweets"])
    assert result.forbidden_tweet_ids == [str(B1), str(B_PROT)]
    assert result.protected_tweet_ids == [str(A_PROT)]
    assert result.unavailable_tweet_ids == [str(B_DEL), str(UNKNOWN)]
    assert result.data["by_post"] == {
        str(A1): {"favorites": 16, "retweets": 0},
        str(A2): {"favorites": 2, "retweets": 0},
    }
    assert result.stats.resent == 1
    assert result.summary()["answered"] == 2


def test_app_only_credentials(world):
    creds = world.app_only
    for client in (
        EngagementClient(world.server.url, bearer_token=world.bearer),
        EngagementClient(world.server.url, creds.app.consumer_key, creds.app.consumer_secret),
    ):
        with client:
            result = client.totals([A1, B1, A_PROT], ["favorites", "video_views"])
            assert result.data["by_post"] == {
                str(A1): {"favorites": 16, "video_views": 50},
                str(B1): {"favorites": 7, "video_views": 50},
            }
            assert result.protected_tweet_ids == [str(A_PROT)]
            with pytest.raises(ApiError) as refused:
                client.totals([A1], ["impressions"])
            assert refused.value.status == 403 and refused.value.errors == [
                "Forbidden to access metrics: impressions"
            ]
            assert refused.value.partial is not None and refused.value.partial.answered == 0


def test_refusals_are_not_retried(world):
    client = EngagementClient(world.server.url, bearer_token="not-a-token")
    with client, pytest.raises(ApiError) as refused:
        client.totals([A1], ["favorites"])
    assert refused.value.status == 401
    assert "Invalid or expired token" in refused.value.errors[0]
    with alice_client(world) as client:
        with pytest.raises(ApiError) as future:
            client.historical([A1], ["impressions"], "2026-11-20", "2026-11-20T14:00:00Z")
        # The client's clock is the wall's; the server's data clock is frozen earlier.
        assert future.value.status == 400 and future.value.errors == [
            "end must not be in the future"
        ]
    nothing_listens = RetryPolicy(max_retries=1, backoff=0.01)
    client = EngagementClient("http://127.0.0.1:9", bearer_token="t", retry=nothing_listens)
    with client, pytest.raises(TransportError, match="ConnectError"):
        client.totals([A1], ["favorites"])


def test_raw_answers_are_kept_and_the_async_api_answers_the_same(world):
    creds = world.alice
    asked = [*ALICE_IDS, *PADS[:30]]
    raw = io.StringIO()
    with alice_client(world) as client:
        synced = client.historical(asked, SERIES, "2026-09-01", "2026-11-20", raw=raw)
    lines = [json.loads(line) for line in raw.getvalue().splitlines()]
    assert len(lines) == synced.stats.requests == 6  # 2 batches x 3 windows
    assert {line["endpoint"] for line in lines} == {"historical"}
    assert sorted({(line["request"]["start"], line["request"]["end"]) for line in lines}) == [
        ("2026-09-01", "2026-09-29T00:00:00Z"),
        ("2026-09-29T00:00:00Z", "2026-10-27T00:00:00Z"),
        ("2026-10-27T00:00:00Z", "2026-11-20"),
    ]

    async def run():
        async with AsyncEngagementClient(
            world.server.url,
            creds.app.consumer_key,
            creds.app.consumer_secret,
            creds.token.token,
            creds.token.secret,
            concurrency=2,
        ) as client:
            batches = [
                b
                async for b in client.stream(
                    "historical", asked, SERIES, start="2026-09-01", end="2026-11-20"
                )
            ]
            whole = await client.historical(asked, SERIES, "2026-09-01", "2026-11-20")
            return batches, whole

    batches, whole = asyncio.run(run())
    assert whole.answer() == synced.answer()
    assert sorted(len(b.ids) for b in batches) == [11, 25]
    assert sum(b.per_post().get(str(A2), {}).get("impressions", 0) for b in batches) == 500


def test_clients_from_the_environment_and_from_profiles(world, tmp_path, monkeypatch):
    creds = world.alice
    for name, value in {
        "ENGAGEMENT_API_BASE_URL": world.server.url,
        "ENGAGEMENT_API_CONSUMER_KEY": creds.app.consumer_key,
        "ENGAGEMENT_API_CONSUMER_SECRET": creds.app.consumer_secret,
        "ENGAGEMENT_API_ACCESS_TOKEN": creds.token.token,
        "ENGAGEMENT_API_ACCESS_TOKEN_SECRET": creds.token.secret,
    }.items():
        monkeypatch.setenv(name, value)
    with EngagementClient.from_env(concurrency=2) as client:
        assert client.totals([A1], ["impressions"]).data["by_post"] == {
            str(A1): {"impressions": 1048}
        }
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        f'[app]\nbase_url = "{world.server.url}"\nbearer_token = "{world.bearer}"\n'
    )

    async def run():
        async with AsyncEngagementClient.from_profile("app", profiles) as client:
            return await client.totals([B1], ["retweets"])

    assert asyncio.run(run()).data["by_post"] == {str(B1): {"retweets": 2}}


def test_watch_yields_each_post_once_when_it_reaches_the_threshold(world):
    with alice_client(world) as client:
        reached = list(client.watch([A1, A2, A_DEL], "favorites", 10, every=0, max_polls=3))
    assert reached == [(str(A1), 16)]


# -- the command line ------------------------------------------------------------------------
def run_cli(world, *args, input=None, env=None, creds=True):
    options = []
    if creds:
        c = world.alice
        options = [
            "--base-url",
            world.server.url,
            "--consumer-key",
            c.app.consumer_key,
            "--consumer-secret",
            c.app.consumer_secret,
            "--access-token",
            c.token.token,
            "--access-token-secret",
            c.token.secret,
        ]
    return CliRunner().invoke(main, ["client", *args, *options], input=input, env=env)


def test_cli_rows_in_every_format(world, tmp_path):
    ids_text = "\n".join(str(i) for i in [A1, A2, A_DEL]) + "\n"
    table = run_cli(
        world, "totals", "--ids-file", "-", "--types", "favorites,replies", input=ids_text
    )
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines() == [
        "tweet_id             metric     count",
        f"{A1}  favorites     16",
        f"{A1}  replies        3",
        f"{A2}  favorites      2",
        f"{A2}  replies        0",
    ]
    assert "/totals: 3 ids asked, 2 answered, 1 unavailable" in table.stderr
    assert "1 Tweet ID(s) are unavailable" in table.stderr
    csv_ = run_cli(
        world,
        "historical",
        str(A1),
        str(A2),
        "--types",
        "impressions",
        "--group-by",
        "engagement.type,engagement.day",
        "--start",
        "2026-11-01",
        "--end",
        "2026-11-03",
        "--format",
        "csv",
    )
    assert csv_.exit_code == 0, csv_.output
    assert csv_.stdout.splitlines() == [
        "metric,day,count",
        "impressions,2026-11-01,0",
        "impressions,2026-11-02,500",
    ]
    out = tmp_path / "hours.jsonl"
    jsonl = run_cli(
        world,
        "28hr",
        str(A1),
        "--types",
        "favorites",
        "--group-by",
        "tweet.id,engagement.hour",
        "--format",
        "jsonl",
        "--out",
        str(out),
        "--raw",
        str(tmp_path / "raw.jsonl"),
    )
    assert jsonl.exit_code == 0, jsonl.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[9] == {"tweet_id": str(A1), "hour": 9, "count": 16} and len(rows) == 24
    raw = json.loads((tmp_path / "raw.jsonl").read_text())
    assert raw["answer"]["rows"][str(A1)]["09"] == "16" and raw["status"] == 200
    parquet = run_cli(world, "totals", str(A1), "--types", "favorites", "--format", "parquet")
    assert parquet.exit_code == 2 and "needs --out" in parquet.output
    target = tmp_path / "t.parquet"
    done = run_cli(
        world,
        "totals",
        str(A1),
        str(A2),
        "--types",
        "favorites",
        "--format",
        "parquet",
        "--out",
        str(target),
    )
    assert done.exit_code == 0, done.output
    import pyarrow.parquet as pq

    assert pq.read_table(target).to_pylist() == [
        {"tweet_id": str(A1), "metric": "favorites", "count": 16},
        {"tweet_id": str(A2), "metric": "favorites", "count": 2},
    ]


def test_cli_top_posts_and_credentials_from_env_and_profile(world, tmp_path):
    bearer_env = {
        "ENGAGEMENT_API_BASE_URL": world.server.url,
        "ENGAGEMENT_API_BEARER_TOKEN": world.bearer,
    }
    top = run_cli(
        world,
        "totals",
        str(A1),
        str(A2),
        str(B1),
        "--types",
        "favorites,retweets",
        "--top",
        "2",
        env=bearer_env,
        creds=False,
    )
    assert top.exit_code == 0, top.output
    lines = top.stdout.splitlines()
    assert lines[0] == "Engagement API results: 3 posts asked, 3 answered"
    assert lines[3:5] == ["favorites     25", "retweets       2"]
    at = lines.index("Top posts by favorites:")
    assert lines[at + 2].split() == ["1", str(A1), "16", f"https://x.com/i/web/status/{A1}"]
    assert lines[at + 3].split()[:3] == ["2", str(B1), "7"]
    at = lines.index("Top posts by retweets:")
    assert lines[at + 2].split()[:3] == ["1", str(B1), "2"] and len(lines) == at + 3
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        f'[here]\nbase_url = "{world.server.url}"\nbearer_token = "{world.bearer}"\n'
    )
    via_profile = run_cli(
        world,
        "totals",
        str(B1),
        "--types",
        "retweets",
        "--profile",
        "here",
        "--profiles-file",
        str(profiles),
        "--format",
        "csv",
        creds=False,
    )
    assert via_profile.exit_code == 0, via_profile.output
    assert via_profile.stdout == f"tweet_id,metric,count\n{B1},retweets,2\n"
    missing = run_cli(
        world, "totals", str(B1), creds=False, env={"ENGAGEMENT_API_BEARER_TOKEN": ""}
    )
    assert missing.exit_code == 1 and "no credentials" in missing.output
    forbidden = run_cli(world, "totals", str(B1), "--types", "favorites")
    assert forbidden.exit_code == 1
    assert f"HTTP 403 on /totals: Forbidden to access tweets: {B1}" in forbidden.output
    dropped = run_cli(
        world,
        "totals",
        str(B1),
        str(A1),
        "--types",
        "favorites",
        "--drop-forbidden",
        "--format",
        "csv",
    )
    assert dropped.exit_code == 0 and dropped.stdout.splitlines()[1:] == [f"{A1},favorites,16"]
    assert "1 forbidden" in dropped.stderr
    no_top = run_cli(world, "totals", str(A1), "--top", "3", "--group-by", "engagement.type")
    assert no_top.exit_code == 2 and "--top needs --group-by" in no_top.output
    bad = run_cli(world, "historical", str(A1), "--start", "2014-01-01", "--end", "2014-02-01")
    assert bad.exit_code == 2 and "before 2014-09-01" in bad.output
    watched = run_cli(
        world,
        "watch",
        str(A1),
        str(A2),
        "--threshold",
        "10",
        "--every",
        "0",
        "--max-polls",
        "2",
        "--format",
        "jsonl",
    )
    assert watched.exit_code == 0, watched.output
    assert [json.loads(x) for x in watched.stdout.splitlines()] == [
        {"tweet_id": str(A1), "metric": "favorites", "count": 16}
    ]
    assert "1 of 2 posts reached 10 favorites" in watched.stderr
