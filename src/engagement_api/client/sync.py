"""The synchronous client: the asynchronous one, run on an event loop of its own thread.

One loop for the client's lifetime keeps its connections alive between calls, and works the
same whether or not the caller's thread runs a loop of its own (a notebook does).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterator, Sequence
from typing import IO, Any, TypeVar

from . import config
from .core import AsyncEngagementClient, OnProgress
from .groupings import GroupingsArg
from .ids import Ids
from .result import Result
from .windows import Instant

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="engagement-api-client", daemon=True
        )
        self._thread.start()

    def run(self, awaitable: Awaitable[T]) -> T:
        future = asyncio.run_coroutine_threadsafe(_wrap(awaitable), self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C in the caller's thread stops the call too
            raise

    def iterate(self, iterator: Any) -> Iterator[Any]:
        try:
            while True:
                try:
                    yield self.run(iterator.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self.run(iterator.aclose())

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def _wrap(awaitable: Awaitable[T]) -> T:
    return await awaitable


class EngagementClient:
    """An Engagement API client for ordinary (blocking) code; the same arguments and methods
    as `AsyncEngagementClient`. Use it in a `with` block, or call `close()`.

        with EngagementClient("http://127.0.0.1:8080", bearer_token=token) as client:
            result = client.totals(ids, ["favorites", "retweets"])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loop = _LoopThread()
        try:
            # Built on the loop's thread: its locks and connections belong to that loop.
            self._client = self._loop.run(_build(args, kwargs))
        except BaseException:
            self._loop.close()
            raise

    @classmethod
    def from_env(cls, **options: Any) -> EngagementClient:
        """Credentials and base URL from ENGAGEMENT_API_* variables (see `config.ENV`)."""
        return cls(**config.from_env().client_kwargs(), **options)

    @classmethod
    def from_profile(cls, name: str, path: str | None = None, **options: Any) -> EngagementClient:
        """Credentials and base URL from a profile of a TOML file (see `config`)."""
        return cls(**config.from_profile(name, path).client_kwargs(), **options)

    @property
    def base_url(self) -> str:
        return self._client.base_url

    def totals(
        self,
        ids: Ids,
        types: Sequence[str],
        groupings: GroupingsArg = None,
        *,
        raw: IO[str] | None = None,
        on_progress: OnProgress | None = None,
    ) -> Result:
        """All-time totals of any number of posts (250 per request)."""
        return self._loop.run(
            self._client.totals(ids, types, groupings, raw=raw, on_progress=on_progress)
        )

    def hours28(
        self,
        ids: Ids,
        types: Sequence[str],
        groupings: GroupingsArg = None,
        *,
        raw: IO[str] | None = None,
        on_progress: OnProgress | None = None,
    ) -> Result:
        """The last 28 hours (and the current one) of any number of posts (25 per request)."""
        return self._loop.run(
            self._client.hours28(ids, types, groupings, raw=raw, on_progress=on_progress)
        )

    def historical(
        self,
        ids: Ids,
        types: Sequence[str],
        start: Instant | None = None,
        end: Instant | None = None,
        groupings: GroupingsArg = None,
        *,
        raw: IO[str] | None = None,
        on_progress: OnProgress | None = None,
    ) -> Result:
        """Any range from 2014-09-01 on, split into windows of at most 28 days."""
        return self._loop.run(
            self._client.historical(
                ids, types, start, end, groupings, raw=raw, on_progress=on_progress
            )
        )

    def stream(
        self,
        endpoint: str,
        ids: Ids,
        types: Sequence[str],
        groupings: GroupingsArg = None,
        start: Instant | None = None,
        end: Instant | None = None,
        *,
        raw: IO[str] | None = None,
        on_progress: OnProgress | None = None,
    ) -> Iterator[Result]:
        """Each batch of posts as it completes (see `AsyncEngagementClient.stream`)."""
        iterator = self._client.stream(
            endpoint, ids, types, groupings, start, end, raw=raw, on_progress=on_progress
        )
        return self._loop.iterate(iterator)

    def watch(
        self,
        ids: Ids,
        metric: str,
        threshold: int,
        every: float = 60.0,
        *,
        max_polls: int | None = None,
    ) -> Iterator[tuple[str, int]]:
        """(tweet id, count) for each post the first time `metric` reaches `threshold`."""
        return self._loop.iterate(
            self._client.watch(ids, metric, threshold, every, max_polls=max_polls)
        )

    def close(self) -> None:
        if not self._loop.loop.is_closed():
            self._loop.run(self._client.aclose())
            self._loop.close()

    def __enter__(self) -> EngagementClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _build(args: tuple, kwargs: dict) -> AsyncEngagementClient:
    return AsyncEngagementClient(*args, **kwargs)
