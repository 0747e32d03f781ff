"""The client against a real `engagement-api serve --workers 2 --control` with generated data
whose every figure is known: 100,000 posts on /totals, 500 posts over 90 days by day; under
fault rules (429s and 503s at 20%, connection resets); beside the two sample clients'
methods; and from the command line, with its progress bar on a terminal."""

from __future__ import annotations

import os
import pty
import random
import re
import select
import subprocess
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import requests
from requests_oauthlib import OAuth1
from serving import ENGAGEMENT_API, cli, prepare, serve

from engagement_api.client import EngagementClient, RetryPolicy, WaitRequired

PUBLIC = ["favorites", "retweets", "quote_tweets", "replies"]
POSTS = 100_000
FIRST_ID = 1500000000000000000
PROTECTED = [FIRST_ID + 17, FIRST_ID + 40_000, FIRST_ID + 99_998]
DELETED = [FIRST_ID + 5, FIRST_ID + 250, FIRST_ID + 77_777, FIRST_ID + 99_999]
UNKNOWN = [1600000000000000000 + i for i in range(5)]
HIST_USER, HIST_POSTS = 777, 500
HIST_FIRST = 1400000000000000000
START, END = "2026-08-15T05:00:00Z", "2026-11-13T05:00:00Z"  # 90 days, 4 windows
SERIES = ["impressions", "engagements", "favorites", "url_clicks"]
INTERACTIONS = ["favorites", "url_clicks", "detail_expands", "other"]  # engagements


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Truth:
    """The generated records and every figure the API must answer for them."""

    def __init__(self) -> None:
        rng = random.Random(2026)
        self.records: list[dict] = []
        self.totals: dict[str, dict[str, int]] = {}
        for n in range(POSTS):
            post_id = FIRST_ID + n
            record = {
                "record": "post",
                "id": str(post_id),
                "author_id": str(5000 + n % 997),
                "handle": f"user{n % 997}",
                "created_at": "2026-10-01T00:00:00Z",
            }
            if post_id in PROTECTED:
                record["protected"] = True
            self.records.append(record)
            counts = {}
            for metric in PUBLIC:
                count = int(rng.paretovariate(1.3)) - 1 if rng.random() < 0.7 else 0
                counts[metric] = count
            if n % 5000 == 123:  # distinct leaders: the top 20 by favorites
                counts["favorites"] = 50_000 + n
            for metric, count in counts.items():
                if count:
                    at = datetime(2026, 10, 2, tzinfo=UTC) + timedelta(hours=rng.randrange(1000))
                    self.records.append(
                        {
                            "record": "engagement",
                            "post_id": str(post_id),
                            "type": metric,
                            "at": iso(at),
                            "count": count,
                        }
                    )
            if post_id not in PROTECTED and post_id not in DELETED:
                self.totals[str(post_id)] = counts
        for post_id in DELETED:
            self.records.append(
                {
                    "record": "post",
                    "id": str(post_id),
                    "author_id": "5000",
                    "handle": "user0",
                    "deleted": True,
                }
            )
        self.asked = [str(FIRST_ID + n) for n in range(POSTS)]
        for at, unknown in zip((10, 60_000, 99_000, 3, 50_500), UNKNOWN, strict=True):
            self.asked.insert(at, str(unknown))
        self._history(rng)

    def _history(self, rng: random.Random) -> None:
        start, end = instant(START), instant(END)
        first_day = datetime(2026, 8, 15, tzinfo=UTC)
        days = [(first_day + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(91)]
        self.hist_ids = [str(HIST_FIRST + n) for n in range(HIST_POSTS)]
        self.by_day = {tid: {m: dict.fromkeys(days, 0) for m in SERIES} for tid in self.hist_ids}
        edges = [start + timedelta(days=28 * k) for k in range(4)] + [end]
        for tweet_id in self.hist_ids:
            self.records.append(
                {
                    "record": "post",
                    "id": tweet_id,
                    "author_id": str(HIST_USER),
                    "handle": "hist",
                    "created_at": "2026-07-01T00:00:00Z",
                }
            )
            moments = [
                datetime(2026, 8, 10, tzinfo=UTC) + timedelta(seconds=rng.randrange(101 * 86400))
                for _ in range(30)
            ]
            if int(tweet_id) % 7 == 0:  # on and around every window boundary
                for edge in edges:
                    moments += [edge, edge - timedelta(seconds=1)]
            for at in moments:
                kind = rng.choice(["impressions", *INTERACTIONS])
                count = rng.randint(1, 5)
                self.records.append(
                    {
                        "record": "engagement",
                        "post_id": tweet_id,
                        "type": kind,
                        "at": iso(at),
                        "count": count,
                    }
                )
                if not start <= at < end:
                    continue
                day = at.strftime("%Y-%m-%d")
                metrics = self.by_day[tweet_id]
                if kind in metrics:
                    metrics[kind][day] += count
                if kind in INTERACTIONS:
                    metrics["engagements"][day] += count


@pytest.fixture(scope="module")
def truth() -> Truth:
    return Truth()


@pytest.fixture(scope="module")
def served(tmp_path_factory, truth):
    folder = tmp_path_factory.mktemp("client")
    prepared = prepare(folder, truth.records)
    with serve(folder, "--workers", "2", "--control", prepared=prepared) as server:
        server.prepared = prepared
        state = control(server, "GET", "state").json()
        assert state["posts"] == POSTS + HIST_POSTS, state  # every record was ingested
        server.hist = cli(
            server.store,
            server.env,
            "tokens",
            "create",
            "--app",
            prepared.app_id,
            "--handle",
            "hist",
        )
        yield server


def control(server, method: str, path: str, document=None) -> requests.Response:
    return requests.request(
        method,
        f"{server.url}/_control/{path}",
        json=document,
        headers={"Authorization": f"Bearer {server.admin}"},
        timeout=30,
    )


def bearer_client(server, **options) -> EngagementClient:
    return EngagementClient(server.url, bearer_token=server.bearer, **options)


def hist_client(server, **options) -> EngagementClient:
    return EngagementClient(
        server.url,
        server.consumer_key,
        server.consumer_secret,
        server.hist["access_token"],
        server.hist["access_token_secret"],
        **options,
    )


def check_totals(result, truth: Truth) -> None:
    assert result.data["by_post"] == truth.totals  # every figure, nothing twice, none lost
    assert result.unavailable_tweet_ids == [
        i for i in truth.asked if int(i) in DELETED or int(i) in UNKNOWN
    ]
    assert result.protected_tweet_ids == [str(i) for i in PROTECTED]
    assert result.errors == ["9 Tweet ID(s) are unavailable"]
    assert result.answered == POSTS - len(PROTECTED) - len(DELETED)


def check_history(result, truth: Truth) -> None:
    assert (result.start, result.end) == (START, END)
    assert result.data["days"] == truth.by_day
    assert not result.errors and not result.protected_tweet_ids


DAYS = {"days": ["tweet.id", "engagement.type", "engagement.day"]}


def test_100000_posts_on_totals(served, truth):
    with bearer_client(served, concurrency=4) as client:
        result = client.totals(truth.asked, PUBLIC)
    check_totals(result, truth)
    assert result.stats.retries == 0 and result.stats.splits >= 2 * len(PROTECTED)


def test_500_posts_over_90_days_by_day(served, truth):
    with hist_client(served) as client:
        result = client.historical(truth.hist_ids, SERIES, START, END, DAYS)
    check_history(result, truth)
    assert result.stats.requests == 20 * 4  # 20 batches of 25, 4 windows each


def test_under_faults_nothing_is_lost_and_nothing_counted_twice(served, truth):
    rules = [
        {"status": 429, "probability": 0.2},
        {"status": 503, "probability": 0.2},
        {"reset": True, "probability": 0.05},
    ]
    control(served, "DELETE", "faults")
    for rule in rules:
        assert control(served, "POST", "faults", rule).status_code == 201
    waits = []
    patient = RetryPolicy(max_retries=40, backoff=0.01, max_backoff=0.05, budget=100_000)
    try:
        with bearer_client(served, retry=patient, max_wait=0.05, on_wait=waits.append) as client:
            totals = client.totals(truth.asked, PUBLIC)
        with hist_client(served, retry=patient, max_wait=0.05) as client:
            history = client.historical(truth.hist_ids, SERIES, START, END, DAYS)
        fired = {
            r["status"] or "reset": r["fired"]
            for r in control(served, "GET", "faults").json()["faults"]
        }
    finally:
        control(served, "DELETE", "faults")
    check_totals(totals, truth)
    check_history(history, truth)
    assert all(count > 0 for count in fired.values()), fired
    # Every faulted request was seen and asked again, once.
    assert totals.stats.retries + history.stats.retries == sum(fired.values())
    assert totals.stats.waits > 0
    rate_limited = [w for w in waits if w.reason == "rate limit"]
    assert rate_limited and all(w.seconds <= 0.05 for w in rate_limited)
    assert any(w.asked and w.asked > 0.05 for w in rate_limited)  # Retry-After was read
    assert {w.reason for w in waits} >= {"rate limit", "backoff"}


def test_the_allowance_is_spent_and_no_429_provoked(served, truth):
    app = cli(served.store, served.env, "apps", "create", "--name", "slow", "--rate-limit", "3")
    token = requests.post(
        served.url + "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(app["consumer_key"], app["consumer_secret"]),
        timeout=10,
    )
    if time.time() % 60 > 50:  # three requests well inside one minute of the allowance
        time.sleep(61 - time.time() % 60)
    asked = [i for i in truth.asked if int(i) not in PROTECTED][:1000]  # 4 requests' worth
    with (
        EngagementClient(
            served.url, bearer_token=token.json()["access_token"], concurrency=2, wait=False
        ) as client,
        pytest.raises(WaitRequired) as stopped,
    ):
        client.totals(asked, PUBLIC)
    assert stopped.value.reason == "allowance" and 0 < stopped.value.seconds <= 60
    partial = stopped.value.partial
    assert partial.stats.requests == 3 and partial.stats.retries == 0  # no 429 was asked for
    assert partial.answered == 750 - sum(1 for i in asked[:750] if int(i) in UNKNOWN + DELETED)


# -- the sample clients' methods, on the same data ----------------------------------------------
def test_the_python_sample_clients_long_range_aggregation(served, truth):
    """The Python sample client's /historical aggregation: one request per window of at most
    28 days, one at a time, counts summed; ours gives the same figures."""
    ids = truth.hist_ids[:25]
    auth = OAuth1(
        served.consumer_key,
        served.consumer_secret,
        served.hist["access_token"],
        served.hist["access_token_secret"],
    )
    summed: dict = defaultdict(lambda: defaultdict(int))
    at, end = instant(START), instant(END)
    while at < end:
        until = min(at + timedelta(days=28), end)
        answer = requests.post(
            served.url + "/insights/engagement/historical",
            json={
                "tweet_ids": ids,
                "engagement_types": SERIES,
                "start": iso(at),
                "end": iso(until),
                "groupings": {"sum": {"group_by": ["tweet.id", "engagement.type"]}},
            },
            auth=auth,
            timeout=30,
        ).json()
        for tweet_id, metrics in answer["sum"].items():
            for metric, count in metrics.items():
                summed[tweet_id][metric] += int(count)
        at = until
    with hist_client(served) as client:
        ours = client.historical(ids, SERIES, START, END)
    assert ours.data["by_post"] == summed
    assert summed == {t: {m: sum(d.values()) for m, d in truth.by_day[t].items()} for t in ids}


def ruby_top_tweets(served, ids: list[str], types: list[str], max_top: int) -> dict:
    """The Ruby sample client's 'Top Tweets', as its code does it: requests of 250 ids one at a
    time (groupings grand_totals and by_tweet_type); per type, a list of `max_top` entries
    started at count 0, a post admitted when its count beats any entry, the smallest entry
    then dropped; totals summed over counts above 0; lists sorted by count at the end."""
    auth = OAuth1(served.consumer_key, served.consumer_secret)  # app-only, as on /totals
    top = {t: [{"id": "0", "count": 0} for _ in range(max_top)] for t in types}
    totals = dict.fromkeys(types, 0)
    for at in range(0, len(ids), 250):
        answer = requests.post(
            served.url + "/insights/engagement/totals",
            json={
                "tweet_ids": ids[at : at + 250],
                "engagement_types": types,
                "groupings": {
                    "grand_totals": {"group_by": ["engagement.type"]},
                    "by_tweet_type": {"group_by": ["tweet.id", "engagement.type"]},
                },
            },
            auth=auth,
            timeout=30,
        ).json()
        for tweet_id, engagements in answer["by_tweet_type"].items():
            for kind, count in engagements.items():
                count = int(count)
                entries = top[kind]
                if any(entry["count"] < count for entry in entries):
                    entries.append({"id": tweet_id, "count": count})
                    smallest = min(entries, key=lambda e: e["count"])
                    entries.remove(smallest)
                if count > 0:
                    totals[kind] += count
    for entries in top.values():
        entries.sort(key=lambda e: e["count"], reverse=True)
    return {"top": top, "totals": totals}


def test_the_ruby_sample_clients_top_posts(served, truth, tmp_path):
    ids = [i for i in truth.asked if int(i) not in PROTECTED]  # the Ruby client stops at a 400
    types = ["favorites", "replies", "retweets"]  # its TOTALS_ENGAGEMENT_TYPES
    reference = ruby_top_tweets(served, ids, types, 10)
    file = tmp_path / "ids.txt"
    file.write_text("tweet_ids\n" + "\n".join(ids) + "\n")  # the Ruby client's id file
    env = {
        **served.env,
        "ENGAGEMENT_API_BASE_URL": served.url,
        "ENGAGEMENT_API_CONSUMER_KEY": served.consumer_key,
        "ENGAGEMENT_API_CONSUMER_SECRET": served.consumer_secret,
    }
    done = subprocess.run(
        [
            ENGAGEMENT_API,
            "client",
            "totals",
            "--ids-file",
            str(file),
            "--types",
            ",".join(types),
            "--top",
            "10",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Engagement API results: {len(ids):,} posts asked, {POSTS - 7:,} answered"
    ours_totals = {line.split()[0]: int(line.split()[1]) for line in lines[3:6]}
    assert ours_totals == reference["totals"]
    assert reference["totals"]["favorites"] == sum(c["favorites"] for c in truth.totals.values())
    for kind in types:
        at = lines.index(f"Top posts by {kind}:")
        ours = [(row.split()[1], int(row.split()[2])) for row in lines[at + 2 : at + 12]]
        theirs = [(e["id"], e["count"]) for e in reference["top"][kind] if e["count"] > 0]
        assert [count for _, count in ours] == [count for _, count in theirs]
        if kind == "favorites":  # distinct leaders: the same posts in the same order
            assert ours == theirs
            assert ours[0] == (str(FIRST_ID + 95_123), 50_000 + 95_123)
    assert f"/totals: {len(ids):,} ids asked, {POSTS - 7:,} answered" in done.stderr


def test_a_progress_bar_on_a_terminal(served, truth, tmp_path):
    file = tmp_path / "ids.txt"
    file.write_text("\n".join(truth.asked[:5000]) + "\n")
    leader, follower = pty.openpty()
    env = {
        **served.env,
        "ENGAGEMENT_API_BASE_URL": served.url,
        "ENGAGEMENT_API_BEARER_TOKEN": served.bearer,
        "COLUMNS": "160",
    }
    process = subprocess.Popen(
        [
            ENGAGEMENT_API,
            "client",
            "totals",
            "--ids-file",
            str(file),
            "--format",
            "csv",
            "--out",
            str(tmp_path / "rows.csv"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                part = os.read(leader, 65536)
            except OSError:
                break
            if not part:
                break
            screen += part
        elif process.poll() is not None:
            break
    process.wait(30)
    os.close(leader)
    text = screen.decode(errors="replace")
    assert process.returncode == 0, text
    assert re.search(
        r"totals\s+\[#+\]\s+5000/5000\s+100%\s+\d+ requests, 0 retries, 0 waits", text
    ), text
    assert "/totals: 5,000 ids asked" in text
    assert len((tmp_path / "rows.csv").read_text().splitlines()) > 4 * 4900


def test_retries_are_bounded_per_request_and_per_call(served, truth):
    from engagement_api.client import ApiError, RetryBudgetExhausted

    quick = {"backoff": 0.01, "max_backoff": 0.02}
    try:
        control(served, "DELETE", "faults")
        control(served, "POST", "faults", {"status": 503, "probability": 1, "times": 3})
        client = bearer_client(served, retry=RetryPolicy(max_retries=2, **quick))
        with client, pytest.raises(ApiError) as failed:
            client.totals(truth.asked[:10], PUBLIC)
        assert failed.value.status == 503 and "exponential backoff" in failed.value.errors[0]
        control(served, "DELETE", "faults")
        control(served, "POST", "faults", {"status": 502, "probability": 1, "times": 4})
        budget = RetryPolicy(max_retries=10, budget=3, **quick)
        client = bearer_client(served, retry=budget, concurrency=1)
        with client, pytest.raises(RetryBudgetExhausted) as spent:
            client.totals(truth.asked[:1000], PUBLIC)
        assert spent.value.budget == 3 and spent.value.partial.stats.retries == 3
        control(served, "DELETE", "faults")
        control(served, "POST", "faults", {"status": 500, "probability": 1, "times": 2})
        with bearer_client(served, retry=RetryPolicy(max_retries=2, **quick)) as client:
            result = client.totals(truth.asked[:10], PUBLIC)  # the third try is answered
        refused = sum(1 for i in truth.asked[:10] if int(i) in UNKNOWN + DELETED)
        assert result.stats.retries == 2 and result.answered == 10 - refused == 8
    finally:
        control(served, "DELETE", "faults")


def test_requests_added_by_splitting_add_to_the_retry_budget(served, truth):
    """The default budget is 10 plus one retry per request; the requests that find a
    protected post (a batch split in halves, down to the post) are requests too. Three
    batches, each with a protected post: once the first has found its post (16 requests
    added), 20 faults must not exhaust a budget that was 13 for the three planned requests."""
    ids = [str(FIRST_ID + n) for start in (0, 39_900, 99_750) for n in range(start, start + 250)]
    quick = RetryPolicy(max_retries=40, backoff=0.01, max_backoff=0.02)
    try:
        control(served, "DELETE", "faults")
        with bearer_client(served, retry=quick, concurrency=1) as client:
            batches = client.stream("totals", ids, PUBLIC)
            first = next(batches)
            rule = {"status": 503, "probability": 1, "times": 20, "endpoints": ["totals"]}
            control(served, "POST", "faults", rule)
            done = [first, *batches]
        fired = control(served, "GET", "faults").json()["faults"][0]["fired"]
        assert fired == 20  # every fault retried, within the budget
        found = sorted(i for b in done for i in b.protected_tweet_ids)
        assert found == [str(i) for i in PROTECTED]
    finally:
        control(served, "DELETE", "faults")
