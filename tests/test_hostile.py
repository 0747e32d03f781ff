"""Hostile input costs the attacker, not the server: each case of the black-box probe, replayed
against a real `engagement-api serve`, with the status, the time, the worker's memory and
`/health` meanwhile (it must keep answering within STALL seconds)."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import sqlite3
import stat
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests
from helpers import A1, ALICE, NOW, world_records
from oauthlib.oauth1 import Client
from requests_oauthlib import OAuth1
from serving import ENGAGEMENT_API, HealthProbe, cli, json_of, raw_request, serve, status_of

STALL = 0.1  # seconds /health may wait while an attack runs
MIB = 1024 * 1024
TOTALS = "/insights/engagement/totals"
BODY = json.dumps(
    {
        "tweet_ids": [str(A1)],
        "engagement_types": ["favorites"],
        "groupings": {"g": {"group_by": ["tweet.id", "engagement.type"]}},
    }
).encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    bounds = ("--header-timeout", "1", "--body-timeout", "1", "--max-connections", "64")
    with serve(folder, *bounds, records=world_records()) as server:
        yield server


def empty_members(count: int) -> bytes:
    return gzip.compress(b"", mtime=0) * count


def test_empty_gzip_members_cost_their_length(served):
    with HealthProbe(served.url) as probe:
        started = time.monotonic()
        r = requests.post(
            served.url + "/oauth2/token",
            data=empty_members(200_000),  # 4 MB, no credentials
            headers={"Content-Encoding": "gzip"},
            timeout=30,
        )
        assert r.status_code == 413 and "larger than" in r.json()["errors"][0]
        r = requests.post(
            served.url + TOTALS,
            data=empty_members(45_000),  # 900 KB: within the body bound, far past the members
            headers={"Content-Encoding": "gzip", "Authorization": f"Bearer {served.bearer}"},
            timeout=30,
        )
        assert r.status_code == 400, r.text
        assert r.json() == {"errors": ["Request body has more than 64 gzip members"]}
        r = requests.post(
            served.url + "/admin/ingest",
            data=empty_members(200_000),
            headers={
                "Content-Encoding": "gzip",
                "Authorization": f"Bearer {served.admin}",
                "Idempotency-Key": "members",
            },
            timeout=30,
        )
        assert r.status_code == 400 and "gzip members" in r.json()["errors"][0]
        assert time.monotonic() - started < 2
    assert probe.failures == 0 and probe.stall < STALL, (probe.worst, probe.quiet)


def test_a_batch_of_junk_costs_about_its_size(served):
    junk = b"x\n" * (25 * MIB)  # 50 MB of bad lines
    peak = [served.rss()]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak.append(served.rss())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    before = served.rss()
    with HealthProbe(served.url) as probe:
        watcher.start()
        r = requests.post(
            served.url + "/admin/ingest",
            data=junk,
            headers={"Authorization": f"Bearer {served.admin}", "Idempotency-Key": "junk"},
            timeout=120,
        )
        done.set()
        watcher.join()
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert errors[0].startswith("line 1: not valid JSON") and len(errors) == 101
    assert errors[-1] == f"... and {25 * MIB - 100} more lines not read"
    growth = max(peak) - before
    assert growth < 3 * len(junk), (
        f"grew {growth / MIB:.0f} MiB for a {len(junk) / MIB:.0f} MiB batch"
    )
    assert probe.failures == 0 and probe.stall < STALL, (probe.worst, probe.quiet)


def oauth_header(served, timestamp: str) -> str:
    client = Client(served.consumer_key, client_secret=served.consumer_secret)
    _, headers, _ = client.sign(served.url + TOTALS, http_method="POST")
    signed = headers["Authorization"]
    start = signed.index('oauth_timestamp="') + len('oauth_timestamp="')
    return signed[:start] + timestamp + signed[signed.index('"', start) :]


@pytest.mark.parametrize(
    ("digits", "reason"),
    [
        (11, "Timestamp out of range"),
        (310, "Malformed OAuth header"),
        (5000, "Malformed OAuth header"),
    ],
)
def test_a_long_oauth_timestamp_is_a_401(served, digits, reason):
    r = requests.post(
        served.url + TOTALS,
        data=BODY,
        headers={"Authorization": oauth_header(served, "1" * digits)},
        timeout=10,
    )
    assert r.status_code == 401
    assert r.json()["errors"][0].endswith("Reason: " + reason)


@pytest.mark.parametrize("value", [True, 0, 1.5, [], {}])
def test_a_record_field_of_any_type_is_one_rejected_line(served, value, tmp_path):
    good = {
        "record": "engagement",
        "post_id": str(A1),
        "type": "favorites",
        "at": "2026-11-20T11:00:00Z",
    }
    bad = {**good, "record": value}
    r = requests.post(
        served.url + "/admin/ingest",
        data=(json.dumps(good) + "\n" + json.dumps(bad) + "\n").encode(),
        headers={"Authorization": f"Bearer {served.admin}", "Idempotency-Key": f"type-{value!r}"},
        timeout=10,
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [
        f"line 2: unknown record kind: {value!r} (expected 'post' or 'engagement')"
    ]
    data = tmp_path / "records.ndjson"
    data.write_text(json.dumps(bad) + "\n" + json.dumps(good) + "\n")
    store = f"sqlite:///{tmp_path}/cli.db"
    world = tmp_path / "world.ndjson"
    world.write_text(
        json.dumps(
            {
                "record": "post",
                "id": str(A1),
                "author_id": str(ALICE),
                "handle": "alice",
                "created_at": "2026-11-19T06:10:00Z",
            }
        )
        + "\n"
    )
    subprocess.run(
        [ENGAGEMENT_API, "--store", store, "--now", NOW, "ingest", "-q", str(world)],
        check=True,
        capture_output=True,
        env=served.env,
    )
    done = subprocess.run(
        [ENGAGEMENT_API, "--store", store, "--now", NOW, "ingest", "-q", str(data)],
        capture_output=True,
        text=True,
        env=served.env,
    )
    assert done.returncode == 1
    assert f"line 1: unknown record kind: {value!r}" in done.stderr
    assert "cannot read" not in done.stderr
    assert "1 event, 1 rejected" in done.stdout  # the good line is applied


def test_bodies_are_bounded_before_authentication(served):
    before = served.rss()
    head = (
        b"POST /admin/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 268435456\r\n\r\n" + b"x" * 1000
    )
    answer, seconds = raw_request(served.port, head)
    assert status_of(answer) == 413 and seconds < 1
    assert json_of(answer) == {"errors": ["Request body is larger than 67108864 bytes"]}
    results = []

    def big() -> None:  # announces 50 MB, sends 1 MB of it: the server must not wait for more
        answer, _ = raw_request(
            served.port,
            b"POST "
            + TOTALS.encode()
            + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (50 * MIB)
            + b"{" * MIB,
        )
        results.append(status_of(answer))

    threads = [threading.Thread(target=big) for _ in range(8)]
    with HealthProbe(served.url) as probe:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [413] * 8
    assert probe.failures == 0 and probe.stall < STALL, (probe.worst, probe.quiet)
    chunked = b"".join(b"%x\r\n%s\r\n" % (64 * 1024, b"[" * 64 * 1024) for _ in range(20))
    answer, _ = raw_request(
        served.port,
        b"POST "
        + TOTALS.encode()
        + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked,
    )
    assert status_of(answer) == 413
    assert served.rss() - before < 64 * MIB


def test_headers_are_bounded(served):
    with HealthProbe(served.url) as probe:
        started = time.monotonic()
        r = requests.post(
            served.url + TOTALS,
            data=BODY,
            headers={
                "Authorization": "OAuth " + ",".join(f'oauth_x{i}="y"' for i in range(800_000))
            },
            timeout=30,
        )
        assert r.status_code == 431 and time.monotonic() - started < 2
        assert "larger than 32768 bytes" in r.json()["errors"][0]
    assert probe.failures == 0 and probe.stall < STALL, (probe.worst, probe.quiet)
    r = requests.get(
        served.url + "/health", headers={f"x-h{i}": "1" for i in range(150)}, timeout=10
    )
    assert r.status_code == 431 and r.json() == {
        "errors": ["Too many request headers: at most 100"]
    }


def test_slow_and_idle_connections_are_cut_off(served):
    answer, seconds = raw_request(served.port, b"")  # connects and says nothing
    assert status_of(answer) == 408 and 0.9 < seconds < 3
    assert json_of(answer) == {"errors": ["The request headers did not arrive in time"]}

    import socket

    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        received = b""
        for byte in b"POST /insights/engagement/totals HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 50:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                received += sock.recv(65536)
            sock.setblocking(True)
            if received:
                break
    assert status_of(received) == 408 and time.monotonic() - started < 3  # slowloris

    answer, seconds = raw_request(
        served.port,
        b"POST "
        + TOTALS.encode()
        + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
        + b"twelve bytes",
    )
    assert status_of(answer) == 408 and seconds < 3
    assert json_of(answer) == {"errors": ["The request body stopped arriving"]}


def test_too_many_connections_are_refused_politely(served):
    import socket

    idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(70)]
    try:
        time.sleep(0.2)
        r = requests.get(served.url + "/health", timeout=10)  # refused, not reset
        assert r.status_code == 503 and "Too many open connections" in r.json()["errors"][0]
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.3)
    assert requests.get(served.url + "/health", timeout=10).status_code == 200


def test_a_store_busy_with_ingest_does_not_stall_answers(served):
    path = served.store.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")  # what a long ingest does to SQLite's write lock
    token = []
    writer = threading.Thread(
        target=lambda: token.append(
            requests.post(
                served.url + "/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(served.consumer_key, served.consumer_secret),
                timeout=60,
            ).status_code
        )
    )
    try:
        with HealthProbe(served.url) as probe:
            writer.start()  # a write that must wait for the lock, off the event loop
            for _ in range(20):
                started = time.monotonic()
                r = requests.post(
                    served.url + TOTALS,
                    data=BODY,
                    headers={"Authorization": f"Bearer {served.bearer}"},
                    timeout=10,
                )
                assert r.status_code == 200 and time.monotonic() - started < STALL
            time.sleep(1)
        assert probe.failures == 0 and probe.stall < STALL, (probe.worst, probe.quiet)
        assert not token  # still waiting for the lock
    finally:
        holder.execute("COMMIT")
        holder.close()
    writer.join(30)
    assert token == [200]


def test_secrets_in_query_strings_never_reach_the_log(served):
    requests.post(served.url + "/oauth2/invalidate_token?access_token=SECRET-ONE", timeout=10)
    requests.post(served.url + "/oauth2/token?client_secret=SECRET-TWO", timeout=10)
    time.sleep(0.3)
    log = served.log.read_text()
    assert "/oauth2/invalidate_token?[redacted]" in log
    assert "SECRET-ONE" not in log and "SECRET-TWO" not in log


def test_a_signature_sent_in_the_query_never_reaches_the_log(served):
    signer = OAuth1(served.consumer_key, served.consumer_secret, signature_type="query")
    r = requests.post(served.url + TOTALS, data=BODY, auth=signer, timeout=10)
    assert r.status_code == 401  # an Authorization header is required
    signature = dict(parse_qsl(urlsplit(r.request.url).query))["oauth_signature"]
    requests.get(served.url + "/health?probe=1&access_token=SECRET-THREE", timeout=10)
    time.sleep(0.3)
    log = served.log.read_text()
    assert signature not in log and quote(signature, safe="") not in log
    assert "SECRET-THREE" not in log
    assert "/health?probe=1&access_token=[redacted]" in log  # what is no secret stays


def test_the_store_is_private_and_its_secrets_encrypted(served, tmp_path):
    path = served.store.removeprefix("sqlite:///")
    for name in (path, path + "-wal", path + "-shm", served.env["ENGAGEMENT_API_KEY_FILE"]):
        if os.path.exists(name):  # SQLite removes the -wal file once checkpointed
            assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name
    stored = b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if os.path.exists(p))
    assert served.consumer_secret.encode() not in stored
    assert b"fernet:" in stored
    # a rotation keeps every credential working, under the new key only
    key_file = Path(served.env["ENGAGEMENT_API_KEY_FILE"])
    key_before = key_file.read_text()
    rotated = cli(served.store, served.env, "db", "rotate-key")
    assert rotated["secrets"] >= 1
    key_after = key_file.read_text()
    assert key_after != key_before and len(key_after.split()) == 1
    listed = subprocess.run(
        [ENGAGEMENT_API, "--store", served.store, "apps", "list"],
        capture_output=True,
        text=True,
        env=served.env,
        check=True,
    ).stdout
    assert served.consumer_secret in listed
    wrong = {**served.env, "ENGAGEMENT_API_KEY_FILE": str(tmp_path / "other.key")}
    done = subprocess.run(
        [ENGAGEMENT_API, "--store", served.store, "apps", "list"],
        capture_output=True,
        text=True,
        env=wrong,
    )
    assert done.returncode == 1 and "does not open the stored secrets" in done.stderr
