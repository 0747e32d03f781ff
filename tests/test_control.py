"""The integrator's toolkit over real HTTP against `serve --workers 2 --control`: fault rules,
the movable data clock, the request journal, reset and state; and nothing of it without
`--control`."""

from __future__ import annotations

import json
import time

import pytest
import requests
from helpers import A1, ALICE, body, world_records
from oauthlib.oauth1 import Client
from serving import cli, prepare, serve

TOTALS = "/insights/engagement/totals"


@pytest.fixture(scope="module")
def controlled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("control")
    prepared = prepare(folder, world_records(), "--rate-limit", "100000")
    with serve(folder, "--workers", "2", "--control", prepared=prepared) as server:
        server.prepared = prepared
        yield server


def admin(server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.admin}"}


def control(server, method: str, path: str, document=None, **params) -> requests.Response:
    return requests.request(
        method,
        f"{server.url}/_control/{path}",
        json=document,
        params=params,
        headers=admin(server),
        timeout=30,
    )


@pytest.fixture
def clean(controlled):
    control(controlled, "DELETE", "faults")
    control(controlled, "DELETE", "requests")
    control(controlled, "PUT", "clock", {"now": "2026-11-20T12:30:00Z"})
    yield controlled
    control(controlled, "DELETE", "faults")


def totals(server, **kwargs) -> requests.Response:
    return requests.post(
        server.url + TOTALS,
        data=json.dumps(body([A1], ["favorites"])),
        headers={"Authorization": f"Bearer {server.bearer}"},
        timeout=30,
        **kwargs,
    )


def user_token(server) -> Client:
    token = cli(
        server.store,
        server.env,
        "tokens",
        "create",
        "--app",
        server.prepared.app_id,
        "--handle",
        "alice",
    )
    return Client(
        server.consumer_key,
        client_secret=server.consumer_secret,
        resource_owner_key=token["access_token"],
        resource_owner_secret=token["access_token_secret"],
    )


def signed(client: Client, url: str, method: str = "POST") -> dict[str, str]:
    return {"Authorization": client.sign(url, http_method=method)[1]["Authorization"]}


def test_without_control_there_is_no_control(tmp_path):
    with serve(tmp_path) as server:
        for method, path in (
            ("GET", "faults"),
            ("POST", "faults"),
            ("PUT", "clock"),
            ("GET", "requests"),
            ("POST", "reset"),
            ("GET", "state"),
        ):
            r = requests.request(
                method, f"{server.url}/_control/{path}", headers=admin(server), json={}, timeout=10
            )
            assert r.status_code == 404 and r.json()["errors"], (method, path)


def test_control_needs_an_admin_token(controlled):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}):
        r = requests.get(f"{controlled.url}/_control/faults", headers=headers, timeout=10)
        assert r.status_code == 401 and r.json()["errors"][0].startswith(
            "Your account could not be authenticated"
        )
    r = requests.get(
        f"{controlled.url}/_control/faults",
        headers={"Authorization": f"Bearer {controlled.bearer}"},
        timeout=10,
    )  # an app's token: no
    assert r.status_code == 401


def test_a_fault_at_probability_one_answers_on_every_worker_and_counts_nothing(clean):
    before = int(totals(clean).headers["x-per-minute-remaining"])
    rule = control(clean, "POST", "faults", {"status": 503, "probability": 1}).json()
    assert rule["status"] == 503 and rule["fired"] == 0
    answers = [totals(clean) for _ in range(20)]
    assert {r.status_code for r in answers} == {503}
    assert answers[0].json() == {
        "errors": ["Service Unavailable: retry your request using an exponential backoff pattern"]
    }
    assert "x-per-minute-remaining" not in answers[0].headers  # no work done: nothing counted
    listed = control(clean, "GET", "faults").json()["faults"]
    assert [(r["id"], r["fired"]) for r in listed] == [(rule["id"], 20)]
    journal = control(clean, "GET", "requests", limit=20).json()["requests"]
    assert {e["fault"] for e in journal} == {rule["id"]}
    assert len({e["worker"] for e in journal}) == 2  # both workers acted it out
    control(clean, "DELETE", "faults")
    after = int(totals(clean).headers["x-per-minute-remaining"])
    assert before - after == 1  # the 20 faulted requests used none of the allowance


def test_a_fault_for_the_next_three_requests(clean):
    control(clean, "POST", "faults", {"status": 500, "times": 3, "endpoints": ["totals"]})
    statuses = [totals(clean).status_code for _ in range(8)]
    assert statuses == [500, 500, 500, 200, 200, 200, 200, 200]


def test_a_429_fault_carries_the_allowance_headers(clean):
    control(clean, "POST", "faults", {"status": 429, "times": 1})
    r = totals(clean)
    assert r.status_code == 429 and "rate limit" in r.json()["errors"][0]
    assert r.headers["x-per-minute-limit"] == "100000"
    assert r.headers["x-per-minute-remaining"] == "0"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert r.headers["ratelimit-policy"] == '"per-minute";q=100000;w=60'


def test_a_reset_fault_drops_the_connection_and_latency_delays(clean):
    control(clean, "POST", "faults", {"reset": True, "times": 1})
    with pytest.raises(requests.ConnectionError):
        totals(clean)
    control(clean, "POST", "faults", {"latency_ms": 400, "times": 1})
    started = time.monotonic()
    assert totals(clean).status_code == 200
    assert time.monotonic() - started >= 0.4


def test_fault_rules_are_checked(clean):
    for wrong in (
        {"status": 404},
        {"status": 503, "probability": 2},
        {"endpoints": ["weekly"]},
        {},
        {"status": 503, "times": 0},
        {"status": 503, "colour": "red"},
    ):
        r = control(clean, "POST", "faults", wrong)
        assert r.status_code == 400 and r.json()["errors"], wrong


def test_moving_the_clock_moves_every_time_rule_on_every_worker(clean):
    client = user_token(clean)
    url = clean.url + "/insights/engagement/28hr"

    def window() -> set[tuple[str, str]]:
        seen = set()
        for _ in range(12):
            r = requests.post(
                url,
                data=json.dumps(body([A1], ["impressions"])),
                headers=signed(client, url),
                timeout=10,
            )
            assert r.status_code == 200, r.text
            seen.add((r.json()["start"], r.json()["end"]))
        return seen

    assert window() == {("2026-11-19T08:00:00Z", "2026-11-20T13:00:00Z")}
    r = control(clean, "PUT", "clock", {"advance": "PT2H"})
    assert r.json() == {"now": "2026-11-20T14:30:00Z", "frozen": True, "source": "control"}
    assert window() == {("2026-11-19T10:00:00Z", "2026-11-20T15:00:00Z")}
    # the usage month follows: December's usage starts empty, and counts alice once there
    control(clean, "PUT", "clock", {"now": "2026-12-01T00:10:00Z"})
    usage_url = clean.url + "/insights/engagement/usage"
    assert (
        requests.get(
            usage_url, headers={"Authorization": f"Bearer {clean.bearer}"}, timeout=10
        ).json()["handles"]
        == []
    )
    assert window()  # user context, answered on both workers
    usage = requests.get(
        usage_url, headers={"Authorization": f"Bearer {clean.bearer}"}, timeout=10
    ).json()
    assert (usage["month"], usage["handles"]) == ("2026-12", ["alice"])
    r = control(clean, "PUT", "clock", {"now": None})
    assert r.json()["frozen"] is False and r.json()["source"] == "wall"
    for wrong in ({"advance": "PT2H"}, {"now": "yesterday"}, {"advance": "P1M"}, {"then": 1}):
        control(clean, "PUT", "clock", {"now": None})
        assert control(clean, "PUT", "clock", wrong).status_code == 400, wrong


def test_the_journal_shows_a_bad_signature_and_no_secret(clean):
    token = cli(
        clean.store,
        clean.env,
        "tokens",
        "create",
        "--app",
        clean.prepared.app_id,
        "--handle",
        "alice",
    )
    wrong = Client(
        clean.consumer_key,
        client_secret="not-the-secret",
        resource_owner_key=token["access_token"],
        resource_owner_secret=token["access_token_secret"],
    )
    url = clean.url + TOTALS
    r = requests.post(
        url, data=json.dumps(body([A1], ["favorites"])), headers=signed(wrong, url), timeout=10
    )
    assert r.status_code == 401
    entry = control(clean, "GET", "requests", limit=1).json()["requests"][0]
    assert entry["status"] == 401 and entry["reason"].endswith("Invalid signature")
    assert entry["auth"] == "oauth1" and entry["path"] == TOTALS
    base = entry["signature_base_strings"][0]
    assert base.startswith("POST&http%3A%2F%2F127.0.0.1%3A")
    assert f"oauth_consumer_key%3D{clean.consumer_key}" in base
    names = [name for name, _ in entry["signed_parameters"]]
    assert "oauth_nonce" in names and "oauth_signature" not in names
    everything = json.dumps(control(clean, "GET", "requests", limit=1000).json())
    for secret in (clean.consumer_secret, token["access_token_secret"], "not-the-secret"):
        assert secret not in everything
        assert secret not in clean.log.read_text()
    answered = totals(clean)
    entry = control(clean, "GET", "requests", limit=1).json()["requests"][0]
    assert (entry["status"], entry["ids"], entry["metrics"]) == (200, [str(A1)], ["favorites"])
    assert entry["app_id"] == int(clean.prepared.app_id) and answered.ok


def test_reset_and_state(tmp_path):
    prepared = prepare(tmp_path, world_records())
    with serve(tmp_path, "--control", prepared=prepared) as server:
        state = control(server, "GET", "state").json()
        assert state["posts"] == 10 and state["apps"] == 1 and state["users"] == 2
        assert state["events"] > 0 and state["tokens"] == 1  # the bearer token
        r = control(server, "POST", "reset", {"keep": ["apps", "users"]})
        assert r.json()["state"] | {} == {
            "posts": 0,
            "events": 0,
            "apps": 1,
            "users": 2,
            "tokens": 0,
            "batches": 0,
        }
        assert totals(server).status_code == 401  # the token went with the reset
        assert control(server, "POST", "reset", {"keep": ["posts"]}).status_code == 400
        r = control(server, "POST", "reset", {})
        assert r.json()["state"]["apps"] == 0 and r.json()["state"]["users"] == 0
        assert control(server, "GET", "state").status_code == 200  # the admin token stays
    assert ALICE


def test_serve_fault_for_a_whole_run(tmp_path):
    prepared = prepare(tmp_path, world_records())
    with serve(tmp_path, "--fault", "502:1", "--workers", "2", prepared=prepared) as server:
        assert {totals(server).status_code for _ in range(6)} == {502}
        r = requests.get(f"{server.url}/_control/faults", headers=admin(server), timeout=10)
        assert r.status_code == 404  # faults for the run, no control API
