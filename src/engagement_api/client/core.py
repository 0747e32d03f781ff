"""The asynchronous client: batches, concurrency, retries, and the merged answer.

A call plans its requests (ids in batches of the endpoint's size, times the historical
windows), sends them concurrently up to `concurrency`, within the allowance the answers
report, and retries what the API or the network failed, within a retry budget. Each batch is
merged across its windows and handed on as it completes (`stream`), and the call's result is
the sum of its batches. A 400 for protected posts (no ids named) splits the batch until the
protected posts are found; a 403 naming other users' posts can drop them and send the rest.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import httpx

from . import config
from . import groupings as grouping_rules
from .api import (
    ENDPOINTS,
    FORBIDDEN_TWEETS_PREFIX,
    PROTECTED_TEXT,
    RETRY_STATUSES,
    TOTALS,
    X_HOST,
    Endpoint,
)
from .auth import BearerAuth, OAuth1Auth
from .errors import (
    ApiError,
    ClientError,
    ForbiddenPosts,
    RetryBudgetExhausted,
    TransportError,
)
from .groupings import GroupingsArg
from .ids import Ids, batches, read_ids
from .pacing import Pacer, RetryPolicy, Wait, retry_after
from .result import Result, Stats
from .windows import Instant, Window, plan

try:  # orjson when present: several times faster on large answers
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
    _dumps: Callable[[Any], bytes] = orjson.dumps
except ImportError:  # pragma: no cover - the client extra installs it
    _loads = json.loads

    def _dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()


USER_AGENT = "engagement-api-client/0.1"


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a call is: ids of completed batches, requests sent, retries, pauses."""

    ids_done: int
    ids_total: int
    requests: int
    retries: int
    waits: int


OnProgress = Callable[[Progress], None]


@dataclass
class _Call:
    endpoint: Endpoint
    types: tuple[str, ...]
    groupings: dict[str, tuple[str, ...]]
    windows: list[Window]
    raw: IO[str] | None

    def body(self, ids: Sequence[str], window: Window) -> bytes:
        document: dict[str, Any] = {
            "tweet_ids": list(ids),
            "engagement_types": list(self.types),
            "groupings": grouping_rules.wire(self.groupings),
        }
        if window.start is not None:
            document["start"] = window.start
        if window.end is not None:
            document["end"] = window.end
        return _dumps(document)

    def result(self, ids: list[str]) -> Result:
        return Result(self.endpoint.name, self.types, self.groupings, ids=ids)


class AsyncEngagementClient:
    """An Engagement API client for asyncio. Use it as `async with`, or `await aclose()`.

    Credentials: `access_token` and `access_token_secret` for user context (OAuth 1.0a with
    the consumer key and secret); else `bearer_token`, or the consumer key and secret alone,
    for app-only requests. `base_url` defaults to X's host.
    """

    def __init__(
        self,
        base_url: str = X_HOST,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        access_token: str | None = None,
        access_token_secret: str | None = None,
        bearer_token: str | None = None,
        *,
        concurrency: int = 8,
        retry: RetryPolicy | None = None,
        wait: bool = True,
        max_wait: float | None = None,
        on_wait: Callable[[Wait], None] | None = None,
        drop_forbidden: bool = False,
        timeout: float = 60.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        seed: int | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.auth: httpx.Auth
        if access_token or access_token_secret:
            if not (consumer_key and consumer_secret and access_token and access_token_secret):
                raise ValueError(
                    "user context needs consumer_key, consumer_secret, access_token and "
                    "access_token_secret"
                )
            self.auth = OAuth1Auth(consumer_key, consumer_secret, access_token, access_token_secret)
        elif bearer_token:
            self.auth = BearerAuth(bearer_token)
        elif consumer_key and consumer_secret:
            self.auth = OAuth1Auth(consumer_key, consumer_secret)
        else:
            raise ValueError(
                "no credentials: give consumer_key and consumer_secret (and access_token and "
                "access_token_secret for user context), or bearer_token"
            )
        self.concurrency = concurrency
        self.retry = retry or RetryPolicy()
        self.drop_forbidden = drop_forbidden
        self.clock = clock
        self._on_wait = on_wait
        self._rng = random.Random(seed)
        self._pacer = Pacer(self._report_wait, wait=wait, max_wait=max_wait, wall=clock)
        self._max_wait = max_wait
        self._slots = asyncio.Semaphore(concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=self.auth,
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
            transport=transport,
            # Certificates are loaded for https only: plain http (a local server) starts faster.
            verify=self.base_url.startswith("https://"),
        )

    # -- construction from configuration ----------------------------------------------------
    @classmethod
    def from_env(cls, **options: Any) -> AsyncEngagementClient:
        """Credentials and base URL from ENGAGEMENT_API_* variables (see `config.ENV`)."""
        return cls(**config.from_env().client_kwargs(), **options)

    @classmethod
    def from_profile(
        cls, name: str, path: str | None = None, **options: Any
    ) -> AsyncEngagementClient:
        """Credentials and base URL from a profile of a TOML file (see `config`)."""
        return cls(**config.from_profile(name, path).client_kwargs(), **options)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncEngagementClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the three endpoints ------------------------------------------------------------------
    async def totals(
        self,
        ids: Ids,
        types: Sequence[str],
        groupings: GroupingsArg = None,
        *,
        raw: IO[str] | None = None,
        on_progress: OnProgress | None = None,
    ) -> Result:
        """All-time totals of any number of posts (250 per request)."""
        run = self._start("totals", ids, types, groupings, None, None, raw, on_progress)
        return await self._collect(run)

    async def hours28(
        self,
        ids: Ids,
        types: Sequence[str],
        groupings: GroupingsArg = None,
        *,
        raw: IO[str] | None = None,
        on_progress: OnProgress | None = None,
    ) -> Result:
        """The last 28 hours (and the current one) of any number of posts (25 per request)."""
        run = self._start("28hr", ids, types, groupings, None, None, raw, on_progress)
        return await self._collect(run)

    async def historical(
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
        """Any range from 2014-09-01 on, of any number of posts: split into windows of at most
        28 days (25 posts per request), every hour asked once."""
        run = self._start("historical", ids, types, groupings, start, end, raw, on_progress)
        return await self._collect(run)

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
    ) -> AsyncIterator[Result]:
        """Each batch of posts as it completes (merged across its windows), in completion
        order: for runs too large to hold, with `TopPosts` or a writer consuming them. The
        arguments are checked at once, before any request."""
        return self._batches(
            self._start(endpoint, ids, types, groupings, start, end, raw, on_progress)
        )

    async def watch(
        self,
        ids: Ids,
        metric: str,
        threshold: int,
        every: float = 60.0,
        *,
        max_polls: int | None = None,
    ) -> AsyncIterator[tuple[str, int]]:
        """Poll /totals every `every` seconds and yield (tweet id, count) for each post the
        first time its `metric` reaches `threshold`; ends when every post has (or never can:
        unavailable, protected, forbidden), or after `max_polls` polls."""
        pending = read_ids(ids)
        grouping_rules.check_types([metric], TOTALS)
        polls = 0
        while pending and (max_polls is None or polls < max_polls):
            if polls:
                await asyncio.sleep(every)
            result = await self.totals(pending, [metric])
            polls += 1
            data = next(iter(result.data.values()))
            gone = set(result.unavailable_tweet_ids) | result.protected.keys()
            gone |= result.forbidden.keys()
            still: list[str] = []
            for tweet_id in pending:
                count = data.get(tweet_id, {}).get(metric)
                if count is not None and count >= threshold:
                    yield tweet_id, count
                elif tweet_id not in gone:
                    still.append(tweet_id)
            pending = still

    # -- one call -----------------------------------------------------------------------------
    def _start(self, endpoint_name, ids, types, groupings, start, end, raw, on_progress) -> _Run:
        """Check everything and plan the requests: any mistake is raised here, before any
        request is sent."""
        if endpoint_name not in ENDPOINTS:
            raise ValueError(f"no endpoint {endpoint_name!r} (there are: {', '.join(ENDPOINTS)})")
        endpoint = ENDPOINTS[endpoint_name]
        chosen = grouping_rules.check_types(types, endpoint)
        shaped = grouping_rules.normalize(groupings, endpoint)
        if endpoint.takes_window:
            windows = plan(start, end, self.clock())
        else:
            if start is not None or end is not None:
                raise ValueError(f"/{endpoint.name} takes no start or end")
            windows = [Window(None, None)]
        all_ids = read_ids(ids)
        if not all_ids:
            raise ValueError("no post ids given")
        parts = batches(all_ids, endpoint.max_ids)
        call = _Call(endpoint, chosen, shaped, windows, raw)
        return _Run(call, all_ids, parts, self.retry, on_progress, self._pacer)

    async def _collect(self, run: _Run) -> Result:
        total = run.call.result(run.ids)
        total.served = 0
        try:
            async for batch in self._batches(run):
                total.merge(batch)
        except ClientError as error:
            error.partial = total
            raise
        finally:
            total.stats = run.stats
        return total

    async def _batches(self, run: _Run) -> AsyncIterator[Result]:
        running: set[asyncio.Task] = set()
        queue = iter(run.parts)
        try:
            while True:
                while len(running) < self.concurrency * 2:  # batches in progress at once
                    part = next(queue, None)
                    if part is None:
                        break
                    running.add(asyncio.ensure_future(self._batch(run, part)))
                if not running:
                    break
                finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                failed = _failure(finished)
                if failed and running:
                    # Send nothing more, but take in what is on its way: nothing fetched is lost.
                    run.failed = run.failed or failed
                    more, running = await asyncio.wait(running)
                    finished |= more
                for task in finished:
                    if task.exception() is None:
                        batch = task.result()
                        run.done += len(batch.ids)
                        run.progress()
                        yield batch
                if failed:
                    raise run.failed or failed  # the failure that stopped the call
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            run.progress()

    async def _batch(self, run: _Run, ids: list[str]) -> Result:
        result = run.call.result(ids)
        first, *rest = run.call.windows
        await self._window(run, ids, first, result)
        if rest:  # the first window found the protected and forbidden posts: leave them out
            refused = result.protected.keys() | result.forbidden.keys()
            asked = [i for i in ids if i not in refused]
            if asked:
                await _all(run, *(self._window(run, asked, w, result) for w in rest))
        return result

    async def _window(self, run: _Run, ids: list[str], window: Window, result: Result) -> None:
        status, answer, body = await self._send(run, ids, window)
        call = run.call
        if status == 200:
            result.add_answer(answer)
            if call.raw is not None:
                call.raw.write(_raw_line(call, body, answer))
            return
        errors = _errors(answer)
        if status == 400 and errors == [PROTECTED_TEXT]:
            if len(ids) == 1:
                result.protected[ids[0]] = None
                return
            middle = len(ids) // 2
            run.stats.splits += 2
            run.more_requests(2)
            await _all(
                run,
                self._window(run, ids[:middle], window, result),
                self._window(run, ids[middle:], window, result),
            )
            return
        if status == 403:
            named = _forbidden_ids(errors)
            if named:
                foreign = [i for i in ids if i in named]
                if not (self.drop_forbidden and foreign):
                    raise ForbiddenPosts(
                        status, errors, call.endpoint.name, foreign or sorted(named)
                    )
                result.forbidden.update(dict.fromkeys(foreign))
                rest = [i for i in ids if i not in named]
                if rest:
                    run.stats.resent += 1
                    run.more_requests(1)
                    await self._window(run, rest, window, result)
                return
        raise ApiError(status, errors, call.endpoint.name)

    async def _send(self, run: _Run, ids: list[str], window: Window) -> tuple[int, dict, bytes]:
        """POST one body until it is answered with something no retry changes."""
        call, stats = run.call, run.stats
        body = call.body(ids, window)
        retries = 0
        while True:
            async with self._slots:
                if run.failed is not None:
                    raise _Stopped from run.failed
                await self._pacer.acquire()
                stats.requests += 1
                try:
                    response = await self._http.post(call.endpoint.path, content=body)
                except _FATAL as error:  # the base URL or the request is wrong: no retry
                    self._pacer.release()
                    raise TransportError(f"{type(error).__name__}: {error}") from error
                except _RETRIED as error:
                    self._pacer.release()
                    status, failure, wait = None, error, None
                else:
                    wait = retry_after(response.headers, self.clock())
                    self._pacer.settle(response.status_code, response.headers, wait)
                    status = response.status_code
                    answer = _parse(response.content)
                    if status not in RETRY_STATUSES:
                        run.progress()
                        return status, answer, body
                    failure = ApiError(status, _errors(answer), call.endpoint.name)
            if retries >= self.retry.max_retries:
                raise _final(failure)
            if run.retries_left <= 0:
                raise RetryBudgetExhausted(run.budget, failure)
            run.retries_left -= 1
            retries += 1
            stats.retries += 1
            run.progress()
            if status == 429:
                continue  # the pacer holds every request until Retry-After has passed
            delay = wait if wait is not None else self.retry.delay(retries, self._rng)
            if self._max_wait is not None:
                delay = min(delay, self._max_wait)
            await self._pacer.backoff(delay, status)

    def _report_wait(self, wait: Wait) -> None:
        if self._on_wait is not None:
            self._on_wait(wait)


# Failures of the network worth a retry (a connection refused, reset or timed out, a body cut
# short), and those no retry mends (a URL or request the client itself got wrong).
_FATAL = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)
_RETRIED = (httpx.TransportError, httpx.DecodingError)


class _Run:
    """One call in progress: its plan, its counters, its progress reports."""

    def __init__(self, call, ids, parts, retry: RetryPolicy, on_progress, pacer: Pacer) -> None:
        self.call: _Call = call
        self.ids: list[str] = ids
        self.parts: list[list[str]] = parts
        self._retry = retry
        self.budget = retry.budget_for(len(parts) * len(call.windows))
        self.retries_left = self.budget
        self.stats = Stats()
        self.done = 0
        self.failed: BaseException | None = None  # the first failure: send nothing more
        self._on_progress = on_progress
        self._pacer = pacer
        self._waits_before = pacer.waits
        self._waited_before = pacer.waited

    def more_requests(self, n: int) -> None:
        """Requests the plan did not foresee (a batch split to find protected posts, one
        resent without foreign posts): a budget sized by the plan grows with them."""
        if self._retry.budget is None:
            self.budget += n
            self.retries_left += n

    def progress(self) -> None:
        self.stats.waits = self._pacer.waits - self._waits_before
        self.stats.waited = self._pacer.waited - self._waited_before
        if self._on_progress is not None:
            stats = self.stats
            self._on_progress(
                Progress(self.done, len(self.ids), stats.requests, stats.retries, stats.waits)
            )


class _Stopped(Exception):
    """A request not sent because its call had already failed."""


async def _all(run: _Run, *awaitables) -> list:
    """Every one of them; after a failure nothing more is sent, but what is on its way is
    taken in before the failure is raised."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        run.failed = run.failed or _failure(done)
        await asyncio.wait(tasks)
    except BaseException:  # cancelled from outside
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    failed = _failure(tasks)
    if failed:
        raise failed
    return [task.result() for task in tasks]


def _failure(tasks) -> BaseException | None:
    """The failure to report of finished tasks: the one that stopped the call, not a request
    left unsent because of it (`_Stopped`)."""
    failures = [t.exception() for t in tasks if t.done() and t.exception() is not None]
    real = [f for f in failures if not isinstance(f, _Stopped)]
    return (real or failures or [None])[0]


def _parse(content: bytes) -> dict:
    try:
        document = _loads(content) if content else {}
    except ValueError:
        text = content[:200].decode("utf-8", "replace").strip()
        return {"errors": [text or "(an answer that is not JSON)"]}
    return document if isinstance(document, dict) else {"errors": [str(document)[:200]]}


def _errors(answer: dict) -> list[str]:
    errors = answer.get("errors")
    return [str(e) for e in errors] if isinstance(errors, list) else []


def _forbidden_ids(errors: list[str]) -> set[str]:
    """The ids of `Forbidden to access tweets: <id>, <id>` (also the older `... for author id
    N: <ids>` form the Ruby sample client parses)."""
    named: set[str] = set()
    for text in errors:
        if text.startswith(FORBIDDEN_TWEETS_PREFIX):
            named.update(p.strip() for p in text.rpartition(":")[2].split(",") if p.strip())
    return named


def _final(failure: BaseException) -> ClientError:
    if isinstance(failure, ClientError):
        return failure
    return TransportError(f"{type(failure).__name__}: {failure}")


def _raw_line(call: _Call, body: bytes, answer: dict) -> str:
    request = _loads(body)
    line = {"endpoint": call.endpoint.name, "request": request, "status": 200, "answer": answer}
    return _dumps(line).decode() + "\n"
