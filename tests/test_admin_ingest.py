"""Live ingest: POST /admin/ingest, whole or not at all, once per Idempotency-Key."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import threading
import time

import pytest
import requests
from click.testing import CliRunner
from helpers import A1, NOW, body, call, event, free_port, post

from engagement_api.auth import credentials
from engagement_api.cli import main
from engagement_api.spec import METRIC_BY_NAME
from engagement_api.store import open_store

FAVORITES = METRIC_BY_NAME["favorites"].code


@pytest.fixture
def admin(world, store):
    result = CliRunner().invoke(main, ["--store", store.url, "admin-token", "create"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["admin_token"]


def ndjson(records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def send(world, token, data, key="batch-1", **headers):
    return requests.post(
        f"{world.server.url}/admin/ingest",
        data=data,
        timeout=30,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key, **headers},
    )


def favorites(world):
    r = call(world.server, "totals", body([A1], ["favorites"]), world.alice.oauth())
    return int(r.json()["g"][str(A1)]["favorites"])


def test_a_batch_is_applied_once_per_key(world, admin):
    batch = ndjson(
        [
            event(A1, "favorites", "2026-11-20T12:00:00Z", 5),
            event(A1, "replies", "2026-11-20T12:00:00Z"),
        ]
    )
    before = favorites(world)
    r = send(world, admin, batch)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "idempotency_key": "batch-1",
        "applied": True,
        "records": 2,
        "posts": 0,
        "events": 2,
    }
    assert favorites(world) == before + 5
    again = send(world, admin, batch)
    assert again.json()["applied"] is False
    assert favorites(world) == before + 5
    zipped = send(world, admin, gzip.compress(batch), key="batch-2", **{"Content-Encoding": "gzip"})
    assert zipped.json()["applied"] is True
    assert favorites(world) == before + 10


def test_a_batch_with_a_bad_record_changes_nothing(world, admin):
    before = favorites(world)
    batch = (
        ndjson(
            [
                post(1100000000000000401, 1001, "alice", "2026-11-20T00:00:00Z"),
                event(A1, "favorites", "2026-11-20T12:00:00Z", 5),
                {
                    "record": "engagement",
                    "post_id": str(A1),
                    "type": "likes",
                    "at": "2026-11-20T12:00:00Z",
                },
            ]
        )
        + b"not json\n"
    )
    r = send(world, admin, batch)
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert errors[0] == "line 3: unknown event type: 'likes'"
    assert errors[1].startswith("line 4: not valid JSON")
    assert len(errors) == 2
    assert favorites(world) == before
    assert world.server.store.get_posts([1100000000000000401]) == {}
    fixed = ndjson([event(A1, "favorites", "2026-11-20T12:00:00Z", 5)])
    assert send(world, admin, fixed).json()["applied"] is True  # the key was not spent
    assert favorites(world) == before + 5


def test_admin_ingest_refusals(world, admin):
    batch = ndjson([event(A1, "favorites", "2026-11-20T12:00:00Z")])
    r = requests.post(
        f"{world.server.url}/admin/ingest",
        data=batch,
        headers={"Authorization": f"Bearer {admin}"},
        timeout=10,
    )
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["errors"][0]
    for token in ("not-a-token", world.bearer):  # an app's bearer token is no admin token
        r = send(world, token, batch)
        assert r.status_code == 401
    r = send(world, admin, b"\n\n")
    assert r.status_code == 400
    r = requests.post(
        f"{world.server.url}/admin/ingest", data=batch, timeout=10, headers={"Idempotency-Key": "k"}
    )
    assert r.status_code == 401
    assert world.server.store.admin_token_valid(credentials.token_hash(admin))
    assert not world.server.store.admin_token_valid(admin)  # stored hashed


def _serve(url, port):
    return subprocess.Popen(
        [
            "engagement-api",
            "--store",
            url,
            "--now",
            NOW,
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait(port, process):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


@pytest.mark.parametrize("delay", [0.15, 0.6])
def test_killing_the_server_mid_batch_leaves_it_whole_or_absent(store_url, delay):
    """SIGKILL during a large batch; after a restart the batch is all there or not at all."""
    post_id, events = 1100000000000000501, 150_000
    with open_store(store_url) as store:
        from helpers import ingest

        ingest(store, [post(post_id, 1001, "alice", "2026-11-01T00:00:00Z")])
        token = credentials.admin_token()
        store.add_admin_token(credentials.token_hash(token), int(time.time()))
    hours = [f"2026-11-{d:02d}T{h:02d}:30:00Z" for d in range(2, 20) for h in range(24)]
    batch = gzip.compress(
        ndjson(event(post_id, "favorites", hours[i % len(hours)]) for i in range(events))
    )
    port = free_port()
    server = _serve(store_url, port)
    try:
        _wait(port, server)
        sender = threading.Thread(target=lambda: _post_quietly(port, token, batch), daemon=True)
        sender.start()
        time.sleep(delay)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    with open_store(store_url) as store:
        seen = store.read_totals([post_id], [FAVORITES]).get((post_id, FAVORITES), 0)
        assert seen in (0, events), f"half a batch: {seen} of {events}"
    server = _serve(store_url, port)
    try:
        _wait(port, server)
        done = _post_quietly(port, token, batch)
        assert done is not None and done.status_code == 200
        assert done.json()["applied"] is (seen == 0)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    with open_store(store_url) as store:
        assert store.read_totals([post_id], [FAVORITES])[post_id, FAVORITES] == events


def _post_quietly(port, token, data):
    try:
        return requests.post(
            f"http://127.0.0.1:{port}/admin/ingest",
            data=data,
            timeout=60,
            headers={
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": "big-batch",
                "Content-Encoding": "gzip",
            },
        )
    except requests.ConnectionError:
        return None
