"""Read replicas for real: a PostgreSQL primary and a streaming replica (`pg_basebackup -R`) on
loopback ports. The engagement reads go to the replica while it keeps up, to the primary when
it falls behind or goes away, and back to the replica when it returns."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid

import psycopg
import pytest
import requests
from helpers import (
    A1,
    ALICE,
    NOW,
    body,
    event,
    ingest,
    make_app,
    make_user_credentials,
    running,
    world_records,
)
from pg import PostgresServer
from serving import ENGAGEMENT_API, prepare, serve

from engagement_api.clock import FrozenClock
from engagement_api.server import create_app
from engagement_api.store import open_store
from engagement_api.store.replicas import ReadRouter
from engagement_api.times import parse_instant

MAX_LAG = 1.0  # seconds: small, so that the tests wait little
CHECK_EVERY = 0.1


@pytest.fixture(scope="module")
def cluster():
    primary = PostgresServer()
    replica = PostgresServer(replica_of=primary)
    yield primary, replica
    replica.stop()
    primary.stop()


@pytest.fixture
def deployment(cluster):
    """A fresh schema on the primary (replicated), the world ingested, an app served with the
    replica as its read store."""
    primary, replica = cluster
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(primary.url(), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    store = open_store(primary.url(schema=schema))
    ingest(store, world_records())
    app = make_app(store)
    alice = make_user_credentials(store, app, ALICE)
    replica_url = replica.url(schema=schema)
    router = ReadRouter(store, [replica_url], MAX_LAG, check_every=CHECK_EVERY)
    clock = FrozenClock(parse_instant(NOW))
    with running(create_app(store, clock, read_router=router)) as url:
        deployed = Deployed(store, router, url, alice, primary, replica, replica_url, schema)
        assert deployed.settles_on(replica_url), router.replicas[0].status
        assert deployed.caught_up(), router.replicas[0].status
        yield deployed
    router.close()
    store.close()


class Deployed:
    def __init__(self, store, router, url, alice, primary, replica, replica_url, schema):
        self.store, self.router, self.url, self.alice = store, router, url, alice
        self.primary, self.replica, self.replica_url, self.schema = (
            primary, replica, replica_url, schema,
        )  # fmt: skip

    def impressions(self) -> int:
        answer = requests.post(
            f"{self.url}/insights/engagement/totals",
            json=body([A1], ["impressions"]),
            auth=self.alice.oauth(),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return int(answer.json()["g"][str(A1)]["impressions"])

    def settles_on(self, url: str, seconds: float = 10) -> bool:
        deadline = time.monotonic() + seconds
        while self.router.in_use() != url:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def caught_up(self, seconds: float = 10) -> bool:
        """Whether the replica replays everything the primary wrote, within `seconds` (until
        then it may answer as of a moment ago: staleness is bounded, not zero)."""
        return bool(eventually(lambda: self.router.replicas[0].status.behind_bytes == 0, seconds))

    def on_replica(self, sql: str) -> None:
        with psycopg.connect(self.replica.url(), autocommit=True) as connection:
            connection.execute(sql)

    def more_impressions(self, count: int) -> None:
        ingest(self.store, [event(A1, "impressions", "2026-11-20T11:00:00Z", count)])


def eventually(check, seconds: float = 10, every: float = 0.05):
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(every)


def test_answers_through_the_replica_equal_the_primarys(deployment):
    groupings = {
        "by-post": {"group_by": ["tweet.id", "engagement.type"]},
        "hourly": {
            "group_by": ["tweet.id", "engagement.type", "engagement.day", "engagement.hour"]
        },
    }
    documents = {
        "totals": body([A1], ["impressions", "favorites", "video_views"]),
        "28hr": body([A1], ["impressions", "favorites", "url_clicks"], groupings),
        "historical": body(
            [A1], ["impressions", "favorites"], groupings,
            start="2026-11-01T00:00:00Z", end="2026-11-20T00:00:00Z",
        ),
    }  # fmt: skip
    clock = FrozenClock(parse_instant(NOW))
    with running(create_app(deployment.store, clock)) as only_primary:
        for endpoint, document in documents.items():
            answers = [
                requests.post(
                    f"{base}/insights/engagement/{endpoint}",
                    json=document,
                    auth=deployment.alice.oauth(),
                    timeout=30,
                )
                for base in (deployment.url, only_primary)
            ]
            assert answers[0].status_code == 200, answers[0].text
            assert answers[0].content == answers[1].content, endpoint
    assert deployment.router.in_use() == deployment.replica_url


def test_an_ingest_on_the_primary_shows_through_the_replica_within_the_bound(deployment):
    before = deployment.impressions()
    started = time.monotonic()
    deployment.more_impressions(5)
    assert eventually(lambda: deployment.impressions() == before + 5)
    assert time.monotonic() - started <= MAX_LAG + 1
    assert deployment.router.in_use() == deployment.replica_url


def test_a_replica_held_back_past_the_bound_is_left_out_then_taken_back(deployment):
    before = deployment.impressions()
    deployment.on_replica("SELECT pg_wal_replay_pause()")
    try:
        deployment.more_impressions(7)
        # Within the bound, the paused replica still answers: the old count.
        assert deployment.impressions() == before
        # Past it, the replica is left out and the primary answers.
        assert deployment.settles_on(deployment.store.url, MAX_LAG + 5)
        assert deployment.impressions() == before + 7
        status = db_status(deployment)
        assert status.returncode == 1
        shown = json.loads(status.stdout)["read_stores"][0]
        assert shown["in_use"] is False and shown["lag_seconds"] > MAX_LAG
    finally:
        deployment.on_replica("SELECT pg_wal_replay_resume()")
    assert deployment.settles_on(deployment.replica_url)
    assert deployment.impressions() == before + 7
    assert db_status(deployment).returncode == 0


def test_a_stopped_replica_costs_no_failed_request(deployment):
    statuses: list[int] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            answer = requests.post(
                f"{deployment.url}/insights/engagement/totals",
                json=body([A1], ["impressions"]),
                auth=deployment.alice.oauth(),
                timeout=30,
            )
            statuses.append(answer.status_code)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        time.sleep(0.3)
        deployment.replica.halt()
        assert deployment.settles_on(deployment.store.url)
        time.sleep(0.3)
        deployment.replica.start()
        assert deployment.settles_on(deployment.replica_url, 20)
        time.sleep(0.3)
    finally:
        stop.set()
        asker.join(30)
    assert len(statuses) > 10 and set(statuses) == {200}


def db_status(deployment, *read_stores: str) -> subprocess.CompletedProcess:
    stores = read_stores or (deployment.replica_url,)
    options = [option for url in stores for option in ("--read-store", url)]
    return subprocess.run(
        [ENGAGEMENT_API, "--store", deployment.store.url, *options,
         "--max-replica-lag", str(MAX_LAG), "db", "status", "--json"],
        capture_output=True, text=True, env=os.environ, timeout=60,
    )  # fmt: skip


def test_db_status_shows_the_primary_and_each_read_store(deployment):
    dead = f"postgresql://postgres@127.0.0.1:9/{deployment.schema}"
    done = db_status(deployment, deployment.replica_url, dead)
    assert done.returncode == 1  # one read store is unusable
    shown = json.loads(done.stdout)
    assert shown["primary"]["schema_version"] >= 4 and shown["max_replica_lag"] == MAX_LAG
    live, down = shown["read_stores"]
    assert live["url"] == deployment.replica_url and live["in_use"] is True
    assert live["lag_seconds"] <= MAX_LAG and live["reachable"] is True
    assert down["reachable"] is False and down["in_use"] is False and down["error"]
    text = subprocess.run(
        [ENGAGEMENT_API, "--store", deployment.store.url, "--read-store", deployment.replica_url,
         "db", "status"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0].startswith("primary ")
    assert "in use" in text.stdout.splitlines()[1]


def test_read_stores_need_a_postgresql_primary(tmp_path):
    done = subprocess.run(
        [ENGAGEMENT_API, "--store", f"sqlite:///{tmp_path}/s.db", "--read-store",
         "postgresql://postgres@127.0.0.1:9/x", "db", "status"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1 and "primary (--store) must be PostgreSQL" in done.stderr


def test_serve_with_workers_reads_from_the_replica(deployment, tmp_path):
    """`serve --workers 2 --read-store`: each worker routes its reads (the environment path)."""
    prepared = prepare(tmp_path, None, store=deployment.store.url)
    options = ("--read-store", deployment.replica_url, "--max-replica-lag", str(MAX_LAG))
    with serve(tmp_path, "--workers", "2", prepared=prepared, global_options=options) as served:
        for _ in range(20):
            answer = requests.post(
                f"{served.url}/insights/engagement/totals",
                json=body([A1], ["favorites"]),
                headers={"Authorization": f"Bearer {served.bearer}"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["g"] == {str(A1): {"favorites": "16"}}
    assert "engagement reads now go to " + deployment.replica_url in served.log.read_text()
