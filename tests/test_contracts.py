"""Contracts that hold across hosts: exact per-minute allowances and nonces, on one host with
many workers (LMDB) and on many hosts (a real Redis); 503 when Redis is gone; @handle usage
exact under concurrency and across the month boundary of the data clock."""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from helpers import (
    A1,
    A2,
    ALICE,
    B1,
    BOB,
    bearer_header,
    body,
    call,
    ingest,
    make_app,
    make_user_credentials,
    post,
    world_records,
)
from oauthlib.oauth1 import Client
from redis_server import RedisServer
from serving import ENGAGEMENT_API, cli, prepare, serve

from engagement_api.times import parse_instant

TOTALS = "/insights/engagement/totals"
BODY = json.dumps(body([A1], ["favorites"])).encode()
ALLOWANCE = 40


@pytest.fixture
def redis_server():
    server = RedisServer()
    yield server
    server.stop()


def within_one_minute() -> None:
    """Start where the wall clock's minute leaves at least 25 s (the allowance is per calendar
    minute of the wall clock, which a test cannot freeze in another process)."""
    second = time.time() % 60
    if second > 35:
        time.sleep(61 - second)


def fire(urls: list[str], bearer: str, count: int) -> list[requests.Response]:
    """`count` concurrent requests, spread over `urls` in turn."""

    def one(n: int) -> requests.Response:
        return requests.post(
            urls[n % len(urls)] + TOTALS, data=BODY, headers=bearer_header(bearer), timeout=30
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        return list(pool.map(one, range(count)))


def assert_exactly_the_allowance(answers: list[requests.Response]) -> None:
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * ALLOWANCE + [429] * (len(answers) - ALLOWANCE)
    remaining = sorted(int(r.headers["x-per-minute-remaining"]) for r in answers if r.ok)
    assert remaining == list(range(ALLOWANCE))  # counted down exactly, each value once
    for r in answers:
        assert r.headers["x-per-minute-limit"] == str(ALLOWANCE)
        assert r.headers["ratelimit-policy"] == f'"per-minute";q={ALLOWANCE};w=60'
        assert r.headers["ratelimit"].startswith(
            f'"per-minute";r={r.headers["x-per-minute-remaining"]};t='
        )
        if r.status_code == 429:
            assert r.headers["x-per-minute-remaining"] == "0"
            assert 1 <= int(r.headers["retry-after"]) <= 60
            assert "rate limit" in r.json()["errors"][0]


def test_the_allowance_is_exact_across_workers(tmp_path):
    prepared = prepare(tmp_path, world_records(), "--rate-limit", str(ALLOWANCE))
    with serve(tmp_path, "--workers", "2", prepared=prepared) as server:
        within_one_minute()
        answers = fire([server.url], server.bearer, 100)
    # the bearer token's grant was not counted: /oauth2/token is not an Engagement API route
    assert_exactly_the_allowance(answers)


def signed(consumer: tuple[str, str], url: str) -> str:
    return Client(consumer[0], client_secret=consumer[1]).sign(url, http_method="POST")[1][
        "Authorization"
    ]


def test_the_allowance_and_nonces_are_exact_across_hosts_with_redis(tmp_path, redis_server):
    prepared = prepare(tmp_path, world_records(), "--rate-limit", str(ALLOWANCE))
    redis = ("--redis", redis_server.url)
    with (
        serve(tmp_path, prepared=prepared, global_options=redis) as one,
        serve(tmp_path, prepared=prepared, global_options=redis) as other,
    ):
        within_one_minute()
        answers = fire([one.url, other.url], one.bearer, 100)
        assert_exactly_the_allowance(answers)
        # a nonce spent on one host is refused by the other (same Host, same signature)
        consumer = (prepared.consumer_key, prepared.consumer_secret)
        header = signed(consumer, "http://api.test" + TOTALS)
        first = requests.post(
            one.url + TOTALS,
            data=BODY,
            headers={"Authorization": header, "Host": "api.test"},
            timeout=10,
        )
        assert first.status_code == 429  # authenticated, and over the allowance by now
        again = requests.post(
            other.url + TOTALS,
            data=BODY,
            headers={"Authorization": header, "Host": "api.test"},
            timeout=10,
        )
        assert again.status_code == 401
        assert again.json()["errors"][0].endswith("Reason: Nonce already used")


def test_redis_gone_is_a_503_never_an_unchecked_answer(tmp_path, redis_server):
    prepared = prepare(tmp_path, world_records())
    with serve(tmp_path, prepared=prepared, global_options=("--redis", redis_server.url)) as server:
        assert fire([server.url], server.bearer, 3)[0].status_code == 200
        redis_server.kill()
        down = fire([server.url], server.bearer, 20)
        assert {r.status_code for r in down} == {503}
        assert down[0].json()["errors"][0].startswith("Service Unavailable")
        redis_server.start()  # on the same port: the server finds it again by itself
        deadline = time.monotonic() + 10
        while (
            requests.post(
                server.url + TOTALS, data=BODY, headers=bearer_header(server.bearer), timeout=10
            ).status_code
            != 200
        ):
            assert time.monotonic() < deadline, "service did not resume"
            time.sleep(0.2)
        log = server.log.read_text()
        assert log.count("per-minute allowances cannot be counted") == 1  # once a minute


# -- @handle usage ---------------------------------------------------------------------------
CAROL = 1003
C1 = 1100000000000000021


def usage_world(store) -> None:
    ingest(store, [*world_records(), post(C1, CAROL, "carol", "2026-11-19T10:00:00Z")])


def test_handle_usage_is_exact_under_concurrent_requests(server, caplog):
    store = server.store
    usage_world(store)
    first = make_app(store, "first", rate_limit=100_000)
    second = make_app(store, "second", rate_limit=100_000)
    store.set_app_contract(first.id, handle_limit=2)
    people = [
        (make_user_credentials(store, app, user), post_id)
        for app in (first, second)
        for user, post_id in ((ALICE, A1), (BOB, B1), (CAROL, C1))
    ]
    bearer = make_app(store, "public", rate_limit=100_000)
    from helpers import bearer_for

    public = bearer_for(store, bearer)

    def one(n: int) -> int:
        creds, post_id = people[n % len(people)]
        if n % 7 == 0:  # app-only requests count no handle
            return call(
                server, "totals", body([post_id], ["favorites"]), headers=bearer_header(public)
            ).status_code
        return call(server, "totals", body([post_id], ["favorites"]), creds.oauth()).status_code

    with caplog.at_level(logging.WARNING, "engagement_api.usage"), ThreadPoolExecutor(12) as pool:
        assert set(pool.map(one, range(240))) == {200}
    month = "2026-11"
    assert store.handle_usage(month) == {
        first.id: ["alice", "bob", "carol"],
        second.id: ["alice", "bob", "carol"],
    }
    passed = [r for r in caplog.records if "passed its limit" in r.getMessage()]
    assert len(passed) == 1 and f"app {first.id} " in passed[0].getMessage()
    # a refused request counts nobody
    r = call(server, "totals", body([B1], ["favorites"]), people[0][0].oauth())
    assert r.status_code == 403
    assert store.handle_usage(month)[first.id] == ["alice", "bob", "carol"]


def test_the_billing_month_follows_the_data_clock(server, clock):
    store = server.store
    usage_world(store)
    app = make_app(store, "monthly")
    alice = make_user_credentials(store, app, ALICE)
    clock.instant = parse_instant("2026-11-30T23:59:59Z")
    assert call(server, "totals", body([A1], ["favorites"]), alice.oauth()).status_code == 200
    clock.instant = parse_instant("2026-12-01T00:00:00Z")
    assert call(server, "totals", body([A2], ["favorites"]), alice.oauth()).status_code == 200
    assert store.handle_usage("2026-11") == {app.id: ["alice"]}
    assert store.handle_usage("2026-12") == {app.id: ["alice"]}
    r = requests.get(
        f"{server.url}/insights/engagement/usage", auth=alice.oauth(), timeout=10
    )  # the calling app, the data clock's month
    assert r.status_code == 200
    assert r.json() == {
        "app_id": str(app.id),
        "app_name": "monthly",
        "month": "2026-12",
        "handle_limit": None,
        "unique_handles": 1,
        "overage": 0,
        "handles": ["alice"],
    }
    assert int(r.headers["x-per-minute-remaining"]) >= 0


def test_the_usage_endpoint(world):
    store = world.server.store
    store.set_app_contract(world.alice.app.id, handle_limit=1)
    for creds, post_id in ((world.alice, A1), (world.bob, B1)):
        assert call(world.server, "totals", body([post_id], ["favorites"]), creds.oauth()).ok
    url = f"{world.server.url}/insights/engagement/usage"
    r = requests.get(url, headers=bearer_header(world.bearer), timeout=10)
    assert r.json() | {} == {
        "app_id": str(world.alice.app.id),
        "app_name": "test",
        "month": "2026-11",
        "handle_limit": 1,
        "unique_handles": 2,
        "overage": 1,
        "handles": ["alice", "bob"],
    }
    r = requests.get(url, params={"month": "2026-10"}, auth=world.app_only.oauth(), timeout=10)
    assert r.json()["handles"] == [] and r.json()["month"] == "2026-10"
    r = requests.get(
        url, params={"month": "2026-13"}, headers=bearer_header(world.bearer), timeout=10
    )
    assert r.status_code == 400 and r.json() == {"errors": ["month must be YYYY-MM: 2026-13"]}
    r = requests.get(url, timeout=10, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 401 and r.headers["content-encoding"] == "gzip"
    r = requests.post(url, headers=bearer_header(world.bearer), timeout=10)
    assert r.status_code == 405


def test_usage_and_app_contracts_on_the_command_line(tmp_path):
    prepared = prepare(tmp_path, world_records(), "--handle-limit", "1")
    store, env = prepared.store, prepared.env
    listed = [
        json.loads(line)
        for line in subprocess.run(
            [ENGAGEMENT_API, "--store", store, "apps", "list"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout.splitlines()
    ]
    assert (listed[0]["rate_limit"], listed[0]["handle_limit"]) == (1_000_000, 1)
    changed = cli(
        store, env, "apps", "set", prepared.app_id, "--rate-limit", "40", "--handle-limit", "none"
    )
    assert (changed["rate_limit"], changed["handle_limit"]) == (40, None)
    changed = cli(store, env, "apps", "set", prepared.app_id, "--handle-limit", "5")
    assert (changed["rate_limit"], changed["handle_limit"]) == (40, 5)
    with serve(tmp_path, prepared=prepared) as server:
        for user, post_id in ((ALICE, A1), (BOB, B1)):
            token = cli(
                store,
                env,
                "tokens",
                "create",
                "--app",
                prepared.app_id,
                "--handle",
                "alice" if user == ALICE else "bob",
            )
            client = Client(
                prepared.consumer_key,
                client_secret=prepared.consumer_secret,
                resource_owner_key=token["access_token"],
                resource_owner_secret=token["access_token_secret"],
            )
            url = server.url + TOTALS
            header = client.sign(url, http_method="POST")[1]["Authorization"]
            payload = json.dumps(body([post_id], ["favorites"]))
            r = requests.post(url, data=payload, headers={"Authorization": header}, timeout=10)
            assert r.status_code == 200, r.text
    done = subprocess.run(
        [ENGAGEMENT_API, "--store", store, "--now", "2026-11-20T12:30:00Z", "usage", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {
            "app_id": prepared.app_id,
            "app_name": "served",
            "month": "2026-11",
            "handle_limit": 5,
            "unique_handles": 2,
            "overage": 0,
            "handles": ["alice", "bob"],
        }
    ]
    table = subprocess.run(
        [ENGAGEMENT_API, "--store", store, "usage", "--month", "2026-11"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "@alice, @bob" in table and "2026-11" in table
    bad = subprocess.run(
        [ENGAGEMENT_API, "--store", store, "usage", "--month", "11-2026"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr
    assert threading.active_count() >= 1
