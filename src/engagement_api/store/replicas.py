"""The engagement reads over PostgreSQL streaming replicas of the primary (`--read-store`).

Every read of the endpoints (posts, totals, hourly rows, the data version) goes to one usable
replica; every write, and every read that must see a write just made (apps, tokens, the
portal), stays on the primary (`--store`). A replica is usable while it answers and its replay
lag is at most `max_lag` seconds; when none is, reads go to the primary.

The lag is measured by a thread of each worker, every CHECK_EVERY seconds, off the event loop:
the primary's WAL position is read first, then the replica's replayed position. A replica that
has replayed at least that far is current (lag 0); one behind is as stale as the last commit
it replayed (an upper bound: staleness is the age of the first commit it has not). A replica
that fails a read is left out at once and the read is answered by the primary: no request
fails because a replica went away; the thread takes it back once it answers and keeps up.

Workers remember reads under (the replica's URL, its data version): what one replica answered
is never mixed with another's (`WorkerMemory`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from . import DEFAULT_MAX_LAG, MAX_LAG_ENV, READ_STORES_ENV
from .base import Post
from .interface import Store
from .migrations import SchemaError
from .postgres import PostgresStore
from .secrets import SecretBox

log = logging.getLogger("engagement_api.store")

CHECK_EVERY = 0.5  # seconds between measurements of every replica
_LOST = (psycopg.OperationalError, psycopg.InterfaceError)


@dataclass
class ReplicaStatus:
    """One replica as last measured."""

    url: str
    reachable: bool = False
    lag: float | None = None  # seconds; None: unknown
    behind_bytes: int | None = None
    error: str | None = None

    def usable(self, max_lag: float) -> bool:
        return self.reachable and self.lag is not None and self.lag <= max_lag


def measure(primary: PostgresStore, replica: PostgresStore, url: str) -> ReplicaStatus:
    """The replica's state against the primary's WAL position, read first."""
    position = primary.wal_position()
    recovering, replayed, age = replica.replay_state()
    if not recovering:
        return ReplicaStatus(url, True, error="not a standby (pg_is_in_recovery() is false)")
    behind = max(0, position - replayed) if replayed is not None else None
    if behind == 0:
        return ReplicaStatus(url, True, 0.0, 0)
    return ReplicaStatus(url, True, math.inf if age is None else age, behind)


class _Replica:
    """A replica's two connections: one the event loop reads through, one its thread measures
    with; either is made again after it failed."""

    def __init__(self, url: str, secrets: SecretBox) -> None:
        self.url = url
        self.secrets = secrets
        self.status = ReplicaStatus(url)
        self.reader: PostgresStore | None = None  # set by the checking thread
        self._checker: PostgresStore | None = None

    def check(self, primary: PostgresStore) -> ReplicaStatus:
        try:
            if self._checker is None:
                self._checker = PostgresStore(self.url, self.secrets, read_only=True)
            status = measure(primary, self._checker, self.url)
            if self.reader is None and status.reachable:
                self.reader = PostgresStore(self.url, self.secrets, read_only=True)
        except (*_LOST, ValueError, SchemaError) as error:  # down, or not a replica of ours
            self._drop_checker()
            status = ReplicaStatus(self.url, error=str(error).strip().splitlines()[0])
        self.status = status
        return status

    def _drop_checker(self) -> None:
        if self._checker is not None:
            with contextlib.suppress(_LOST):
                self._checker.close()
            self._checker = None

    def lost(self, error: Exception) -> None:
        """A read through it failed: left out until the thread finds it well again."""
        reader, self.reader = self.reader, None
        self.status = ReplicaStatus(self.url, error=str(error).strip().splitlines()[0])
        if reader is not None:
            with contextlib.suppress(_LOST):
                reader.close()

    def close(self) -> None:
        self._drop_checker()
        if self.reader is not None:
            self.reader.close()
            self.reader = None


class ReadRouter:
    """The `Reads` of the endpoints, answered by a usable replica, else by the primary."""

    def __init__(
        self,
        primary: Store,
        urls: Sequence[str],
        max_lag: float = DEFAULT_MAX_LAG,
        check_every: float = CHECK_EVERY,
        watch: bool = True,
    ) -> None:
        if getattr(primary, "engine", None) != "postgresql":
            raise ValueError(
                "read stores are PostgreSQL streaming replicas: the primary (--store) must be "
                f"PostgreSQL, not {primary.url}"
            )
        self.primary = primary
        self.max_lag = max_lag
        self.replicas = [_Replica(url, primary.secrets) for url in urls]
        self._measuring = PostgresStore(primary.url, primary.secrets, read_only=True)
        self._chosen: _Replica | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if watch:
            self.check()
            self._thread = threading.Thread(
                target=self._watch, args=(check_every,), name="replica-lag", daemon=True
            )
            self._thread.start()

    # -- choosing ------------------------------------------------------------------------
    def check(self) -> list[ReplicaStatus]:
        """Measure every replica and choose the one to read from (this worker's share)."""
        statuses = [replica.check(self._measuring) for replica in self.replicas]
        usable = [r for r in self.replicas if r.status.usable(self.max_lag) and r.reader]
        chosen = self._chosen
        if chosen not in usable:
            chosen = usable[os.getpid() % len(usable)] if usable else None
            if chosen is not self._chosen:
                log.warning(
                    "engagement reads now go to %s",
                    chosen.url if chosen else "the primary (no replica usable)",
                )
            self._chosen = chosen
        return statuses

    def _watch(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.check()
            except _LOST as error:  # the primary itself: its own requests will say so
                log.warning("cannot measure replica lag: %s", error)

    def in_use(self) -> str:
        """The URL the engagement reads go to now."""
        return self._chosen.url if self._chosen else self.primary.url

    def _answer(self, method: str, *args) -> tuple[str, Any]:
        """(the URL that answered, its answer) of one read."""
        chosen = self._chosen
        if chosen is not None and (reader := chosen.reader) is not None:
            try:
                return chosen.url, getattr(reader, method)(*args)
            except _LOST as error:
                log.warning("replica %s failed a read, left out: %s", chosen.url, error)
                chosen.lost(error)
                if self._chosen is chosen:
                    self._chosen = None
        return self.primary.url, getattr(self.primary, method)(*args)

    def _read(self, method: str, *args):
        return self._answer(method, *args)[1]

    # -- Reads -----------------------------------------------------------------------------
    def version(self) -> tuple[str, int]:
        """(where the reads go, its data version): what a worker remembers reads under."""
        return self._answer("data_version")

    def data_version(self) -> int:
        return self._read("data_version")

    def get_posts(self, ids: Sequence[int]) -> dict[int, Post]:
        return self._read("get_posts", ids)

    def read_totals(self, post_ids: Sequence[int], metric_codes: Sequence[int]):
        return self._read("read_totals", post_ids, metric_codes)

    def read_video_totals(self, video_ids: Iterable[str]) -> dict[str, int]:
        return self._read("read_video_totals", video_ids)

    def read_hourly(self, post_ids, metric_codes, start_hour: int, end_hour: int):
        return self._read("read_hourly", post_ids, metric_codes, start_hour, end_hour)

    def latest_event_hour(self) -> int | None:
        return self._read("latest_event_hour")

    def read_counts_since(self, post_ids, metric_codes, from_hour: int):
        return self._read("read_counts_since", post_ids, metric_codes, from_hour)

    def read_video_counts_since(self, video_ids: Iterable[str], from_hour: int):
        return self._read("read_video_counts_since", video_ids, from_hour)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for replica in self.replicas:
            replica.close()
        self._measuring.close()


def read_stores_from_env() -> tuple[list[str], float]:
    """The read stores and lag bound a worker of `serve` was given."""
    urls = [u.strip() for u in os.environ.get(READ_STORES_ENV, "").split(",") if u.strip()]
    return urls, float(os.environ.get(MAX_LAG_ENV) or DEFAULT_MAX_LAG)
