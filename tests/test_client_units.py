"""The client's parts without a server: ids, windows, merging, rows and files, top posts,
configuration, signing, pacing; and that it stands apart from the server."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import unquote

import httpx
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature as rfc5849
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header

from engagement_api import spec
from engagement_api.client import api, config
from engagement_api.client.auth import BearerAuth, OAuth1Auth
from engagement_api.client.errors import WaitRequired
from engagement_api.client.groupings import normalize
from engagement_api.client.ids import read_ids
from engagement_api.client.merge import PartialLists, add_into
from engagement_api.client.pacing import (
    ALLOWANCE,
    Pacer,
    RetryPolicy,
    retry_after,
    seconds_to_reset,
)
from engagement_api.client.result import Result
from engagement_api.client.top import TopPosts
from engagement_api.client.windows import ceil_hour, floor_hour, parse_instant, plan

DAY, HOUR = 86400, 3600
NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC).timestamp()


# -- the client's copy of the documented facts agrees with the server's ----------------------
def test_the_clients_facts_are_the_servers():
    for endpoint in spec.ENDPOINTS:
        mine = api.ENDPOINTS[endpoint.name]
        assert (mine.path, mine.max_ids, mine.metrics, mine.group_by, mine.takes_window) == (
            endpoint.path,
            endpoint.max_ids,
            endpoint.metrics,
            endpoint.group_by,
            endpoint.takes_window,
        )
    assert tuple(m.name for m in spec.METRICS if m.app_only_on_totals) == api.APP_ONLY_METRICS
    assert api.HISTORICAL_MAX == spec.HISTORICAL_MAX
    assert api.HISTORICAL_MIN_START == spec.HISTORICAL_MIN_START
    assert api.RESERVED_KEYS == spec.RESERVED_KEYS
    assert api.PROTECTED_TEXT == spec.Messages.PROTECTED
    assert api.UNAVAILABLE_TEXT == spec.Messages.UNAVAILABLE
    assert spec.Messages.FORBIDDEN_TWEETS.startswith(api.FORBIDDEN_TWEETS_PREFIX)
    assert (api.LIMIT_HEADER, api.REMAINING_HEADER) == (spec.LIMIT_HEADER, spec.REMAINING_HEADER)
    assert {429, *spec.Messages.SERVER_ERRORS} == api.RETRY_STATUSES


# -- independence ------------------------------------------------------------------------------
INDEPENDENT = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    REFUSED = ("engagement_api.server", "engagement_api.store", "engagement_api.engagement",
               "engagement_api.auth", "engagement_api.ingest", "engagement_api.contract",
               "engagement_api.control", "engagement_api.spec", "engagement_api.query",
               "engagement_api.shape", "engagement_api.times", "engagement_api.ids",
               "starlette", "uvicorn", "psycopg", "lmdb", "redis", "numpy")

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.startswith(REFUSED):
                raise ImportError(f"the client imported {name}")
            return None

    sys.meta_path.insert(0, Refuse())
    import engagement_api.client as client
    for found in pkgutil.walk_packages(client.__path__, "engagement_api.client."):
        importlib.import_module(found.name)
    for name in client.__all__:
        getattr(client, name)
    c = client.EngagementClient("http://127.0.0.1:9", bearer_token="t")
    c.close()
    loaded = sorted(m for m in sys.modules if m.startswith(REFUSED))
    assert not loaded, loaded
    print("independent")
    """
)


def test_the_client_imports_nothing_of_the_server():
    done = subprocess.run(
        [sys.executable, "-c", INDEPENDENT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "independent"


def test_the_command_line_names_the_extra_when_httpx_is_missing():
    program = textwrap.dedent(
        """
        import sys
        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name == "httpx" or name.startswith("httpx."):
                    raise ModuleNotFoundError("No module named 'httpx'", name="httpx")
        sys.meta_path.insert(0, Refuse())
        from engagement_api.cli import main
        main(["client", "totals", "1100000000000000001", "--bearer-token", "x"])
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 1
    assert "pip install 'engagement-api[client]'" in done.stderr
    assert "httpx is not installed" in done.stderr


# -- ids ---------------------------------------------------------------------------------------
def test_ids_from_lists_files_and_iterators(tmp_path):
    assert read_ids([1100000000000000001, " 1100000000000000002\n", "1100000000000000001"]) == [
        "1100000000000000001",
        "1100000000000000002",
    ]
    assert read_ids(iter(["5", "6"])) == ["5", "6"]
    assert read_ids("7") == ["7"]
    file = tmp_path / "ids.txt"
    file.write_text("tweet_ids\n# mine\n\n 11 \n12\n11\n")
    assert read_ids(file) == ["11", "12"]
    assert read_ids(io.StringIO("13\n14\n")) == ["13", "14"]
    for bad in (["012"], ["1.5"], ["-1"], [str(2**63)], [True], [1.0], [""]):
        with pytest.raises(ValueError, match="not a post id"):
            read_ids(bad)
    file.write_text("11\nnope\n")
    with pytest.raises(ValueError, match=r"ids.txt: line 2: not a post id: 'nope'"):
        read_ids(file)
    with pytest.raises(ValueError, match=r"pathlib\.Path"):
        read_ids("ids.txt")


# -- windows -----------------------------------------------------------------------------------
def test_window_refusals_before_any_request():
    with pytest.raises(ValueError, match="before 2014-09-01"):
        plan("2014-08-31T23:00:00Z", "2014-09-10", NOW)
    with pytest.raises(ValueError, match="in the future"):
        plan("2026-11-01", "2026-11-20T12:31:00Z", NOW)
    with pytest.raises(ValueError, match="not before end"):
        plan("2026-11-02", "2026-11-01", NOW)
    with pytest.raises(ValueError, match="in the future"):
        plan("2026-11-20T14:00:00Z", None, NOW)
    with pytest.raises(ValueError, match="neither YYYY-MM-DD"):
        plan("yesterday", None, NOW)
    with pytest.raises(ValueError, match="no time zone"):
        plan(datetime(2026, 1, 1), None, NOW)


def test_window_plans():
    assert [(w.start, w.end) for w in plan(None, None, NOW)] == [(None, None)]
    only_end = plan(None, "2026-11-10T10:20:00Z", NOW)
    assert [(w.start, w.end) for w in only_end] == [(None, "2026-11-10T10:20:00Z")]
    exact = plan("2026-10-01", "2026-10-29", NOW)  # exactly 28 days: one request
    assert [(w.start, w.end) for w in exact] == [("2026-10-01", "2026-10-29")]
    open_ended = plan("2026-08-01T00:30:00Z", None, NOW)
    assert open_ended[0].start == "2026-08-01T00:30:00Z"
    assert open_ended[-1].end is None  # the API ends it at its own current hour
    assert [w.start for w in open_ended[1:]] == [
        "2026-08-29T00:00:00Z",
        "2026-09-26T00:00:00Z",
        "2026-10-24T00:00:00Z",
    ]
    assert open_ended[-1].end_hour == floor_hour(NOW) + HOUR
    # Bounds as given are sent as given, objects as ISO text.
    given = plan(date(2026, 1, 1), datetime(2026, 3, 1, 7, 15, tzinfo=UTC), NOW)
    assert given[0].start == "2026-01-01" and given[-1].end == "2026-03-01T07:15:00Z"


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(api.HISTORICAL_MIN_START, int(NOW) - HOUR),
    length=st.integers(1, 400 * DAY),
)
def test_windows_cover_every_hour_exactly_once(start, length):
    end = min(start + length, int(NOW))
    if floor_hour(start) >= ceil_hour(end):
        return
    iso = lambda s: datetime.fromtimestamp(s, UTC).isoformat().replace("+00:00", "Z")  # noqa: E731
    windows = plan(iso(start), iso(end), NOW)
    assert windows[0].first_hour == floor_hour(start)
    assert windows[-1].end_hour == ceil_hour(end)
    for before, after in itertools.pairwise(windows):
        assert before.end_hour == after.first_hour  # consecutive: no gap, no overlap
    for window in windows:
        assert 0 < window.end_hour - window.first_hour <= api.HISTORICAL_MAX
        # What is sent rounds, on the server, to exactly the planned hours.
        assert floor_hour(parse_instant(window.start)[1]) == window.first_hour
        assert ceil_hour(parse_instant(window.end)[1]) == window.end_hour
    assert len(windows) == -(-(ceil_hour(end) - floor_hour(start)) // api.HISTORICAL_MAX)


# -- merging -----------------------------------------------------------------------------------
def test_merging_adds_leaves_and_keeps_the_partial_lists():
    target: dict = {}
    add_into(target, {"a": {"favorites": "2", "2026-11-01": {"03": "1"}}, "t": {"x": "5"}})
    add_into(target, {"a": {"favorites": "3", "2026-11-01": {"04": "2"}}, "t": {"x": "1"}})
    assert target == {"a": {"favorites": 5, "2026-11-01": {"03": 1, "04": 2}}, "t": {"x": 6}}
    lists = PartialLists()
    lists.add({"unavailable_tweet_ids": ["9", "8"], "errors": ["2 Tweet ID(s) are unavailable"]})
    lists.add(
        {
            "unavailable_tweet_ids": ["9", "7"],
            "unsupported_for_video_views_tweet_ids": ["6"],
            "errors": [
                "2 Tweet ID(s) are unavailable",
                "Video views for tweets older than 1800 days (2021-12-16T12:30:00Z) are not "
                "supported",
            ],
        }
    )
    assert lists.ids("unavailable_tweet_ids") == ["9", "8", "7"]
    assert lists.errors() == [
        "3 Tweet ID(s) are unavailable",
        "Video views for tweets older than 1800 days (2021-12-16T12:30:00Z) are not supported",
    ]


def test_groupings_are_checked_before_any_request():
    assert normalize(None, api.TOTALS) == {"by_post": ("tweet.id", "engagement.type")}
    assert normalize(["Tweet.id"], api.TOTALS) == {"by_post": ("tweet.id",)}
    assert normalize({"g": {"group_by": ["engagement.type"]}}, api.HOURS28) == {
        "g": ("engagement.type",)
    }
    for bad, match in (
        ({"g": ["engagement.day"]}, "cannot group /totals"),
        ({"errors": ["tweet.id"]}, "cannot name a grouping"),
        ({"a": ["tweet.id"], "b": ["tweet.id"], "c": ["tweet.id"], "d": ["tweet.id"]}, "1 to 3"),
        ({"g": ["tweet.id", "tweet.id"]}, "repeats"),
        ({"g": []}, "non-empty"),
    ):
        with pytest.raises(ValueError, match=match):
            normalize(bad, api.TOTALS)
    with pytest.raises(ValueError, match=r"before engagement\.hour"):
        normalize({"g": ["engagement.hour", "engagement.day"]}, api.HISTORICAL)


# -- rows and files ----------------------------------------------------------------------------
def _series_result() -> Result:
    result = Result(
        "historical",
        ("impressions", "engagements"),
        {
            "rows": ("tweet.id", "engagement.type", "engagement.day", "engagement.hour"),
            "totals": ("engagement.type",),
        },
        ids=["2", "1"],
    )
    # Windows and batches arrive in any order; rows come in request and time order.
    result.add_answer(
        {
            "start": "2026-11-02T00:00:00Z",
            "end": "2026-11-03T00:00:00Z",
            "rows": {
                "1": {
                    "engagements": {"2026-11-02": {"01": "4"}},
                    "impressions": {"2026-11-02": {"01": "40"}},
                }
            },
            "totals": {"impressions": "40", "engagements": "4"},
        }
    )
    result.add_answer(
        {
            "start": "2026-11-01T00:00:00Z",
            "end": "2026-11-02T00:00:00Z",
            "rows": {
                "2": {
                    "impressions": {"2026-11-01": {"23": "10", "05": "0"}},
                    "engagements": {"2026-11-01": {"23": "1", "05": "0"}},
                },
                "1": {
                    "impressions": {"2026-11-01": {"23": "3"}},
                    "engagements": {"2026-11-01": {"23": "0"}},
                },
            },
            "totals": {"impressions": "13", "engagements": "1"},
        }
    )
    return result


def test_rows_in_request_and_time_order():
    result = _series_result()
    assert result.start == "2026-11-01T00:00:00Z" and result.end == "2026-11-03T00:00:00Z"
    assert result.columns() == ("tweet_id", "metric", "day", "hour", "count")
    assert list(result.tuples()) == [
        ("2", "impressions", "2026-11-01", 5, 0),
        ("2", "impressions", "2026-11-01", 23, 10),
        ("2", "engagements", "2026-11-01", 5, 0),
        ("2", "engagements", "2026-11-01", 23, 1),
        ("1", "impressions", "2026-11-01", 23, 3),
        ("1", "impressions", "2026-11-02", 1, 40),
        ("1", "engagements", "2026-11-01", 23, 0),
        ("1", "engagements", "2026-11-02", 1, 4),
    ]
    assert list(result.rows("totals")) == [
        {"metric": "impressions", "count": 53},
        {"metric": "engagements", "count": 5},
    ]
    answer = result.answer()
    assert answer["totals"] == {"impressions": "53", "engagements": "5"}
    assert list(answer["rows"]) == ["2", "1"]
    assert answer["rows"]["1"]["impressions"] == {
        "2026-11-01": {"23": "3"},
        "2026-11-02": {"01": "40"},
    }
    assert result.per_post() == {
        "2": {"impressions": 10, "engagements": 1},
        "1": {"impressions": 43, "engagements": 4},
    }
    assert result.engagement_rate() == {"2": 0.1, "1": 4 / 43}
    assert result.overall_engagement_rate() == 5 / 53


def test_files_and_frames(tmp_path):
    result = _series_result()
    result.to_csv(tmp_path / "rows.csv")
    lines = (tmp_path / "rows.csv").read_text().splitlines()
    assert (
        lines[0] == "tweet_id,metric,day,hour,count" and lines[1] == "2,impressions,2026-11-01,5,0"
    )
    assert len(lines) == 9
    result.to_jsonl(tmp_path / "rows.jsonl")
    first = json.loads((tmp_path / "rows.jsonl").read_text().splitlines()[0])
    assert first == {
        "tweet_id": "2",
        "metric": "impressions",
        "day": "2026-11-01",
        "hour": 5,
        "count": 0,
    }
    assert result.to_parquet(tmp_path / "rows.parquet") == 8
    table = pq.read_table(tmp_path / "rows.parquet")
    assert table.column_names == ["tweet_id", "metric", "day", "hour", "count"]
    assert table.column("day")[0].as_py() == date(2026, 11, 1)
    assert table.column("count").to_pylist() == [0, 10, 0, 1, 3, 40, 0, 4]
    frame = result.to_pandas()
    assert list(frame.columns) == ["tweet_id", "metric", "day", "hour", "count"]
    assert int(frame["count"].sum()) == 58 and str(frame["count"].dtype) == "int64"
    totals = result.to_pandas("totals")
    assert totals.to_dict("records") == [
        {"metric": "impressions", "count": 53},
        {"metric": "engagements", "count": 5},
    ]
    empty = Result("totals", ("favorites",), {"g": ("tweet.id", "engagement.type")})
    assert empty.to_arrow().num_rows == 0


# -- top posts ---------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 20), max_size=60), st.integers(1, 12), st.integers(1, 5))
def test_top_posts_streamed_equal_a_full_sort(counts, n, chunks):
    posts = {str(1000 + i): {"favorites": c} for i, c in enumerate(counts)}
    tracker = TopPosts(n, ["favorites"])
    items = list(posts.items())
    size = max(1, len(items) // chunks)
    for at in range(0, len(items), size):  # streamed in parts
        tracker.add(dict(items[at : at + size]))
    ranked = sorted(
        ((tid, m["favorites"]) for tid, m in posts.items() if m["favorites"] > 0),
        key=lambda pair: -pair[1],
    )  # a stable sort: ties keep the order seen
    assert tracker.top("favorites") == ranked[:n]
    assert tracker.totals["favorites"] == sum(counts)


def test_top_of_a_result():
    result = Result(
        "totals",
        ("favorites", "retweets"),
        {"g": ("tweet.id", "engagement.type")},
        ids=["1", "2", "3"],
    )
    result.add_answer(
        {
            "g": {
                "1": {"favorites": "5", "retweets": "0"},
                "2": {"favorites": "9", "retweets": "1"},
                "3": {"favorites": "5", "retweets": "0"},
            }
        }
    )
    assert result.top("favorites", 2) == [("2", 9), ("1", 5)]
    assert result.top("retweets", 5) == [("2", 1)]
    assert result.totals() == {"favorites": 19, "retweets": 1}
    with pytest.raises(ValueError, match="was not asked"):
        result.top("replies")


# -- configuration -----------------------------------------------------------------------------
def test_credentials_from_env_profiles_and_flags(tmp_path):
    env = {
        "ENGAGEMENT_API_BASE_URL": "http://127.0.0.1:8080",
        "ENGAGEMENT_API_CONSUMER_KEY": "ck",
        "ENGAGEMENT_API_CONSUMER_SECRET": "cs",
        "ENGAGEMENT_API_ACCESS_TOKEN": "1-t",
        "ENGAGEMENT_API_ACCESS_TOKEN_SECRET": "ts",
        "ENGAGEMENT_API_BEARER_TOKEN": "",
    }
    found = config.from_env(env)
    assert found == config.Credentials("http://127.0.0.1:8080", "ck", "cs", "1-t", "ts", None)
    assert config.from_env({}).base_url == api.X_HOST
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        '[x]\nbearer_token = "b"\n[local]\nbase_url = "http://h:1"\n'
        'consumer_key = "k"\nconsumer_secret = "s"\n'
    )
    assert config.from_profile("x", profiles) == config.Credentials(bearer_token="b")
    assert config.from_profile("local", profiles).base_url == "http://h:1"
    resolved = config.resolve({"consumer_key": "flag", "base_url": None}, "local", profiles, env)
    assert (resolved.consumer_key, resolved.consumer_secret, resolved.base_url) == (
        "flag",
        "s",
        "http://h:1",
    )
    assert config.resolve({"bearer_token": "f"}, None, None, env).bearer_token == "f"
    with pytest.raises(ValueError, match=r"no profile \[nope\] \(profiles: x, local\)"):
        config.from_profile("nope", profiles)
    profiles.write_text('[bad]\ntoken = "t"\n')
    with pytest.raises(ValueError, match="unknown keys token"):
        config.from_profile("bad", profiles)
    with pytest.raises(ValueError, match="no profiles file"):
        config.from_profile("x", tmp_path / "missing.toml")


# -- signing -----------------------------------------------------------------------------------
def _signed(auth: httpx.Auth, url: str, body: bytes) -> httpx.Request:
    request = httpx.Request("POST", url, content=body, headers={"Content-Type": "application/json"})
    return next(auth.auth_flow(request))


def test_oauth1_signs_method_url_and_oauth_params_but_never_the_json_body():
    url = "http://127.0.0.1:8080/insights/engagement/totals"
    body = b'{"tweet_ids": ["1"], "engagement_types": ["favorites"]}'
    request = _signed(OAuth1Auth("ck", "cs", "1-tok", "ts"), url, body)
    header = request.headers["Authorization"]
    params = {k: unquote(v) for k, v in parse_authorization_header(header)}
    assert params["oauth_signature_method"] == "HMAC-SHA1" and params["oauth_token"] == "1-tok"
    assert "oauth_body_hash" not in params
    assert abs(int(params["oauth_timestamp"]) - time.time()) < 5
    signature = params.pop("oauth_signature")
    base = rfc5849.signature_base_string(
        "POST", rfc5849.base_string_uri(url), rfc5849.normalize_parameters(list(params.items()))
    )
    signer = Client("ck", client_secret="cs", resource_owner_secret="ts")
    assert signature == rfc5849.sign_hmac_sha1_with_client(base, signer)
    again = dict(
        parse_authorization_header(
            _signed(OAuth1Auth("ck", "cs", "1-tok", "ts"), url, body).headers["Authorization"]
        )
    )
    assert again["oauth_nonce"] != params["oauth_nonce"]
    app_only = dict(
        parse_authorization_header(
            _signed(OAuth1Auth("ck", "cs"), url, body).headers["Authorization"]
        )
    )
    assert "oauth_token" not in app_only
    assert _signed(BearerAuth("AAA"), url, body).headers["Authorization"] == "Bearer AAA"


# -- pacing ------------------------------------------------------------------------------------
def test_retry_after_and_reset_headers():
    assert retry_after({"retry-after": "7"}, 0) == 7.0
    assert retry_after({"retry-after": "Thu, 01 Jan 1970 00:01:40 GMT"}, 40.0) == 60.0
    assert retry_after({}, 0) is None and retry_after({"retry-after": "soon"}, 0) is None
    assert seconds_to_reset({"ratelimit": '"per-minute";r=0;t=17'}, 0) == 17.0
    assert seconds_to_reset({"x-rate-limit-reset": "130"}, 100.0) == 30.0
    assert seconds_to_reset({}, 125.0) == 55.0
    policy = RetryPolicy(backoff=1.0, max_backoff=8.0)
    import random

    rng = random.Random(1)
    for retry, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)):
        delays = [policy.delay(retry, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert RetryPolicy().budget_for(40) == 50 and RetryPolicy(budget=3).budget_for(40) == 3


def test_one_pause_for_every_request_when_the_allowance_is_spent():
    async def scenario():
        reported, slept = [], []
        clock = [1000.0]

        async def sleep(seconds):
            slept.append(seconds)
            clock[0] += seconds

        pacer = Pacer(
            reported.append, monotonic=lambda: clock[0], wall=lambda: clock[0], sleep=sleep
        )
        await pacer.acquire()
        pacer.settle(200, {"x-per-minute-remaining": "0", "ratelimit": "r=0;t=12"}, None)
        await asyncio.gather(*(pacer.acquire() for _ in range(5)))  # all wait, one pause
        assert [w.reason for w in reported] == [ALLOWANCE] and slept == [12.0]
        strict = Pacer(reported.append, wait=False, monotonic=lambda: clock[0])
        await strict.acquire()
        strict.settle(429, {"x-per-minute-remaining": "0"}, 30.0)
        with pytest.raises(WaitRequired) as raised:
            await strict.acquire()
        assert raised.value.seconds == 30.0 and raised.value.reason == "rate limit"
        capped = Pacer(reported.append, max_wait=0.5, monotonic=lambda: clock[0], sleep=sleep)
        await capped.acquire()
        capped.settle(429, {}, 40.0)
        await capped.acquire()
        assert reported[-1].seconds == 0.5 and reported[-1].asked == 40.0

    asyncio.run(scenario())


def test_a_client_needs_credentials():
    from engagement_api.client import EngagementClient

    with pytest.raises(ValueError, match="no credentials"):
        EngagementClient("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="user context needs"):
        EngagementClient("http://127.0.0.1:9", "ck", "cs", access_token="1-t")
    with EngagementClient(consumer_key="k", consumer_secret="s") as client:
        assert client.base_url == "https://data-api.x.com"
    # Mistakes are refused before any request: nothing listens on port 9.
    with EngagementClient("http://127.0.0.1:9", bearer_token="t") as client:
        with pytest.raises(ValueError, match="does not offer quote_tweets"):
            client.hours28(["1"], ["quote_tweets"])
        with pytest.raises(ValueError, match="before 2014-09-01"):
            client.historical(["1"], ["impressions"], start="2014-08-01", end="2014-08-20")
        with pytest.raises(ValueError, match="takes no start"):
            client.stream("totals", ["1"], ["favorites"], start="2026-01-01")
        with pytest.raises(ValueError, match="no post ids"):
            client.totals([], ["favorites"])


def test_paths_are_not_ids(tmp_path: Path):
    file = tmp_path / "x.txt"
    file.write_text("5\n")
    assert read_ids(file) == ["5"]


def test_a_request_that_finds_a_pause_just_over_goes_on():
    """A pause can be over while its done-callback has not run yet (callbacks run on the next
    turn of the loop). A request that asks then must not spin on it: awaiting a done future
    does not yield, so the callback would never run and the client would hang."""
    import threading

    async def scenario() -> None:
        pacer = Pacer(lambda wait: None)
        over = asyncio.get_running_loop().create_future()
        over.add_done_callback(pacer._paused)
        pacer._pause = over
        over.set_result(None)  # its callback is only scheduled
        await pacer.acquire()

    runner = threading.Thread(target=asyncio.run, args=(scenario(),), daemon=True)
    runner.start()
    runner.join(5)
    assert not runner.is_alive(), "acquire() spun on a pause that was over"
