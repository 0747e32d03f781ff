"""The tests against a deployment past one machine: with ENGAGEMENT_API_TEST_DEPLOYMENT=replicas,
the `server` fixture is two API hosts (two apps, each its own process state) sharing one Redis
for allowances and nonces, writing to a PostgreSQL primary and reading the engagement data from
its streaming replica. Requests alternate between the two hosts; after every ingest the tests
wait until the replica has replayed it (the deployment's staleness is bounded, not zero).

`.ci/run` runs the conformance tests this way after the whole suite.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterator

from helpers import AFTER_INGEST, Server, running

from engagement_api.contract.redis_backend import RedisContract
from engagement_api.server import create_app
from engagement_api.store import Store
from engagement_api.store.migrations import SchemaError
from engagement_api.store.postgres import PostgresStore
from engagement_api.store.replicas import ReadRouter

DEPLOYMENT_ENV = "ENGAGEMENT_API_TEST_DEPLOYMENT"
ACTIVE = os.environ.get(DEPLOYMENT_ENV) == "replicas"
HOSTS = 2


def replica_url_of(primary_url: str, primary_port: int, replica_port: int) -> str:
    return primary_url.replace(f":{primary_port}/", f":{replica_port}/")


def wait_for_replay(primary: Store, replica: PostgresStore, seconds: float = 30) -> None:
    """Until the replica has replayed everything the primary has written."""
    target = primary.wal_position()
    deadline = time.monotonic() + seconds
    while True:
        replayed = replica.replay_state()[1]
        if replayed is not None and replayed >= target:
            return
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.02)


def wait(condition, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def replica_of(store: Store, replica_url: str, seconds: float = 30) -> PostgresStore:
    """The replica of the store's schema, once its schema has been replayed there."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return PostgresStore(replica_url, store.secrets, read_only=True)
        except (ValueError, SchemaError):
            assert time.monotonic() < deadline, "the schema did not reach the replica"
            time.sleep(0.05)


class DeployedServer(Server):
    """The `server` of the tests, as two hosts: `url` (and so `path`) takes turns."""

    def __init__(self, hosts: list[str], store: Store, clock) -> None:
        self.hosts, self.store, self.clock = itertools.cycle(hosts), store, clock

    @property
    def url(self) -> str:
        return next(self.hosts)


@contextlib.contextmanager
def deployed(store: Store, clock, postgres, replica, redis) -> Iterator[DeployedServer]:
    """Two hosts over `store` (a schema of the primary), its replica and one Redis."""
    redis.flush()  # app ids start again at 1 in every test's schema: so do their counts
    replica_url = replica_url_of(store.url, postgres.port, replica.port)
    follower = replica_of(store, replica_url)
    with contextlib.ExitStack() as stack:
        stack.callback(follower.close)
        urls, routers = [], []
        for _ in range(HOSTS):
            router = ReadRouter(store, [replica_url], max_lag=5.0, check_every=0.1)
            stack.callback(router.close)
            routers.append(router)
            contract = RedisContract(redis.url)
            urls.append(stack.enter_context(running(create_app(store, clock, contract=contract,
                                                               read_router=router))))  # fmt: skip
        for router in routers:  # the reads of the test go to the replica from the start
            assert wait(lambda router=router: router.in_use() == replica_url), router.replicas
        replayed = lambda: wait_for_replay(store, follower)  # noqa: E731
        AFTER_INGEST.append(replayed)
        stack.callback(AFTER_INGEST.remove, replayed)
        yield DeployedServer(urls, store, clock)
