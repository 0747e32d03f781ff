"""Test helpers and fixtures: a real store, a real HTTP server on loopback, real OAuth clients."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
import requests
import uvicorn
from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature as rfc5849
from oauthlib.oauth1.rfc5849.utils import escape
from pg import PostgresServer
from requests_oauthlib import OAuth1

from engagement_api.auth import bearer, credentials
from engagement_api.clock import FrozenClock
from engagement_api.ingest import ingest_records
from engagement_api.server import create_app
from engagement_api.store import AccessToken, App, Store, open_store
from engagement_api.times import parse_instant

NOW = "2026-11-20T12:30:00Z"
_keys = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def clock() -> FrozenClock:
    """The server's data clock; tests may move it."""
    return FrozenClock(parse_instant(NOW))


ENGINES = os.environ.get("ENGAGEMENT_API_TEST_ENGINES", "sqlite,postgresql").split(",")
if os.environ.get("ENGAGEMENT_API_TEST_DEPLOYMENT") == "replicas":  # see deployment.py
    ENGINES = ["postgresql"]
AFTER_INGEST: list = []  # called after every ingest (a deployment waits for its replica)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL per test process; a missing binary fails, never skips."""
    server = PostgresServer()
    yield server
    server.stop()


def new_store_url(engine: str, folder, postgres: PostgresServer | None = None) -> str:
    """A fresh, empty store: a SQLite file in an empty `folder`, or a schema of `postgres`."""
    if engine == "sqlite":
        return f"sqlite:///{folder}/store.db"
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres.url(), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    return postgres.url(schema=schema)


@pytest.fixture(params=ENGINES)
def store_url(request, tmp_path) -> str:
    """A fresh, empty store of each engine: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return new_store_url("sqlite", tmp_path)
    return new_store_url("postgresql", tmp_path, request.getfixturevalue("postgres_server"))


@pytest.fixture
def store(store_url) -> Iterator[Store]:
    with open_store(store_url) as opened:
        yield opened


def ingest(store: Store, records: list[dict], now: float | None = None) -> None:
    """Apply records as one batch; every record must be accepted."""
    rejected: list[tuple[int, str]] = []
    ingest_records(
        store,
        records,
        key=f"test:{next(_keys)}:{time.time_ns()}",
        now=parse_instant(NOW) if now is None else now,
        on_reject=lambda line, reason: rejected.append((line, reason)),
    )
    assert not rejected, rejected
    for hook in AFTER_INGEST:
        hook()


def post(post_id, author_id, handle, created_at=None, **fields) -> dict:
    record = {
        "record": "post",
        "id": str(post_id),
        "author_id": str(author_id),
        "handle": handle,
        **fields,
    }
    if created_at:
        record["created_at"] = created_at
    return record


def event(post_id, kind, at, count=1, **fields) -> dict:
    return {
        "record": "engagement",
        "post_id": str(post_id),
        "type": kind,
        "at": at,
        "count": count,
        **fields,
    }


@dataclass
class Server:
    url: str
    store: Store
    clock: FrozenClock

    def path(self, endpoint: str) -> str:
        return f"{self.url}/insights/engagement/{endpoint}"


class _ThreadedServer(uvicorn.Server):
    """uvicorn in a thread that stops at once when asked (its own loop polls every 0.1 s
    and its shutdown waits another 0.1 s, which every test would pay at teardown)."""

    def install_signal_handlers(self) -> None:  # not the main thread
        pass

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if not self.should_exit:
            await self._stopping.wait()

    async def shutdown(self, sockets=None) -> None:
        # uvicorn's waits 0.1 s for connections to finish: a test's requests have finished.
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        await self.lifespan.shutdown()

    def stop(self) -> None:
        """From another thread."""
        self.should_exit = True
        stopping = getattr(self, "_stopping", None)
        if stopping is not None:
            self._loop.call_soon_threadsafe(stopping.set)


@contextlib.contextmanager
def running(app) -> Iterator[str]:
    """An ASGI app served by uvicorn on a free loopback port, in a thread: its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    instance = _ThreadedServer(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.stop()
        thread.join(5)


@pytest.fixture
def server(request, store, clock) -> Iterator[Server]:
    """The server of a test: one app in a thread, or with ENGAGEMENT_API_TEST_DEPLOYMENT=replicas
    two hosts over a primary, its replica and one Redis (deployment.py)."""
    from deployment import ACTIVE, deployed

    if ACTIVE:
        fixtures = ("postgres_server", "replica_server", "redis_for_hosts")
        with deployed(store, clock, *map(request.getfixturevalue, fixtures)) as hosts:
            yield hosts
        return
    with running(create_app(store, clock)) as url:
        yield Server(url, store, clock)


@pytest.fixture(scope="session")
def replica_server(postgres_server) -> Iterator[PostgresServer]:
    """A streaming replica of the tests' PostgreSQL (deployment.py)."""
    replica = PostgresServer(replica_of=postgres_server)
    yield replica
    replica.stop()


@pytest.fixture(scope="session")
def redis_for_hosts():
    """The one Redis of a deployment's hosts (deployment.py)."""
    from redis_server import RedisServer

    found = RedisServer()
    yield found
    found.stop()


@dataclass
class Credentials:
    app: App
    token: AccessToken | None

    def oauth(self, **overrides) -> OAuth1:
        """A requests-oauthlib signer: user context, or consumer-only when token is None."""
        return OAuth1(
            self.app.consumer_key,
            self.app.consumer_secret,
            self.token.token if self.token else None,
            self.token.secret if self.token else None,
            **overrides,
        )


def make_app(store: Store, name="test", approved=True, rate_limit=6000) -> App:
    return store.create_app(
        name, credentials.consumer_key(), credentials.consumer_secret(), approved, rate_limit
    )


def make_user_credentials(store: Store, app: App, user_id: int) -> Credentials:
    token = AccessToken(
        credentials.access_token(user_id), credentials.access_token_secret(), app.id, user_id
    )
    store.create_access_token(token)
    return Credentials(app, token)


def bearer_for(store: Store, app: App) -> str:
    return bearer.issue(store, app, int(time.time()))


def call(server: Server, endpoint: str, body, auth=None, headers=None, **kwargs):
    """POST a JSON body (a dict, or raw bytes/str sent as they are)."""
    data = body if isinstance(body, bytes | str) else None
    return requests.post(
        server.path(endpoint),
        json=None if data is not None else body,
        data=data,
        auth=auth,
        headers=headers,
        timeout=30,
        **kwargs,
    )


def bearer_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- a small world with every kind of post the rules speak of -----------------------------
ALICE, BOB = 1001, 1002
A1 = 1100000000000000001  # alice, recent, video vid-1
A2 = 1100000000000000002  # alice, three weeks old
A_OLD = 1100000000000000003  # alice, older than 90 days
A_ANCIENT = 1100000000000000004  # alice, older than 1800 days, video vid-2
A_PROT = 1100000000000000005  # alice, protected
A_DEL = 1100000000000000006  # alice, deleted
A_2015 = 1100000000000000007  # alice, from September 2015
B1 = 1100000000000000011  # bob, a repost of vid-1
B_PROT = 1100000000000000012  # bob, protected
B_DEL = 1100000000000000013  # bob, deleted
UNKNOWN = 1100000000000000099


def world_records() -> list[dict]:
    return [
        post(A1, ALICE, "alice", "2026-11-19T06:10:00Z", video_id="vid-1"),
        post(A2, ALICE, "alice", "2026-11-01T00:00:00Z"),
        post(A_OLD, ALICE, "alice", "2026-07-01T00:00:00Z"),
        post(A_ANCIENT, ALICE, "alice", "2020-01-01T00:00:00Z", video_id="vid-2"),
        post(A_PROT, ALICE, "alice", "2026-11-18T00:00:00Z", protected=True),
        post(A_DEL, ALICE, "alice", "2026-11-18T00:00:00Z"),
        post(A_2015, ALICE, "alice", "2015-09-01T00:00:00Z"),
        post(B1, BOB, "bob", "2026-11-19T11:00:00Z", video_id="vid-1"),
        post(B_PROT, BOB, "bob", "2026-11-18T00:00:00Z", protected=True),
        post(B_DEL, BOB, "bob", "2026-11-18T00:00:00Z", deleted=True),
        # A1: 28-hour window at NOW is 2026-11-19T08:00:00Z .. 2026-11-20T13:00:00Z.
        event(A1, "impressions", "2026-11-19T07:59:59Z", 1000),  # one second too early
        event(A1, "impressions", "2026-11-19T08:00:00Z", 1),  # exactly at the window start
        event(A1, "impressions", "2026-11-19T08:15:00Z", 40),
        event(A1, "impressions", "2026-11-19T09:00:00Z", 100, promoted=True),  # not counted
        event(A1, "impressions", "2026-11-20T12:05:00Z", 7),
        event(A1, "favorites", "2026-11-19T09:30:00Z", 12),
        event(A1, "favorites", "2026-11-19T09:45:00Z", 4, promoted=True),
        event(A1, "replies", "2026-11-19T10:00:00Z", 3),
        event(A1, "url_clicks", "2026-11-19T23:59:59Z", 5),
        event(A1, "other", "2026-11-20T01:00:00Z", 2),
        event(A1, "video_views", "2026-11-19T10:00:00Z", 30),
        event(A1, "media_views", "2026-11-19T10:00:00Z", 50),
        event(A2, "impressions", "2026-11-02T10:00:00Z", 500),
        event(A2, "favorites", "2026-11-02T10:20:00Z", 2),
        event(A_OLD, "impressions", "2026-07-02T00:00:00Z", 10),
        event(A_OLD, "favorites", "2026-07-02T00:00:00Z", 3),
        event(A_ANCIENT, "video_views", "2020-01-02T00:00:00Z", 9),
        event(A_ANCIENT, "favorites", "2020-01-02T00:00:00Z", 4),
        event(A_2015, "favorites", "2015-09-10T05:00:00Z", 6),
        event(A_2015, "favorites", "2015-09-20T05:00:00Z", 8),
        event(A_2015, "impressions", "2015-09-10T05:00:00Z", 60),
        event(B1, "impressions", "2026-11-19T12:00:00Z", 70),
        event(B1, "favorites", "2026-11-19T12:00:00Z", 7),
        event(B1, "retweets", "2026-11-19T12:30:00Z", 2),
        event(B1, "video_views", "2026-11-19T12:00:00Z", 20),
        # A_DEL gathers events, then is deleted.
        event(A_DEL, "favorites", "2026-11-18T01:00:00Z", 1),
        post(A_DEL, ALICE, "alice", deleted=True),
    ]


@dataclass
class World:
    server: Server
    alice: Credentials  # user context for alice
    bob: Credentials
    app_only: Credentials  # consumer key and secret, no user token
    bearer: str
    other_app_alice: Credentials  # alice's token, issued to a second app


@pytest.fixture
def world(server) -> World:
    store = server.store
    ingest(store, world_records())
    app = make_app(store)
    other = make_app(store, "other")
    return World(
        server,
        make_user_credentials(store, app, ALICE),
        make_user_credentials(store, app, BOB),
        Credentials(app, None),
        bearer_for(store, app),
        make_user_credentials(store, other, ALICE),
    )


def body(ids, metrics, groupings=None, **extra) -> dict:
    return {
        "tweet_ids": [str(i) for i in ids],
        "engagement_types": list(metrics),
        "groupings": groupings or {"g": {"group_by": ["tweet.id", "engagement.type"]}},
        **extra,
    }


def signed_header(url, consumer, token, extra=(), scheme_url=None, version="1.0"):
    """An Authorization header built with oauthlib's primitives, with extra oauth_* params."""
    params = [
        ("oauth_consumer_key", consumer.consumer_key),
        ("oauth_nonce", uuid.uuid4().hex),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", str(int(time.time()))),
        ("oauth_token", token.token),
        ("oauth_version", version),
        *extra,
    ]
    base = rfc5849.signature_base_string(
        "POST", rfc5849.base_string_uri(scheme_url or url), rfc5849.normalize_parameters(params)
    )
    client = Client(
        consumer.consumer_key,
        client_secret=consumer.consumer_secret,
        resource_owner_secret=token.secret,
    )
    sig = rfc5849.sign_hmac_sha1_with_client(base, client)
    pairs = [*params, ("oauth_signature", sig)]
    return "OAuth " + ", ".join(f'{k}="{escape(v)}"' for k, v in pairs)
