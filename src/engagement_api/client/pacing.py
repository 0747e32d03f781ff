"""Staying within the allowance and backing off: when the next request may go, and how long to
wait before a retry.

The API reports the allowance on every answer (`x-per-minute-limit`, `x-per-minute-remaining`;
our server adds the IETF `RateLimit` fields, whose `t=` says when the minute ends). The pacer
spends what remains, and when nothing does it pauses every request until the minute is over,
as it does after a 429 for as long as `Retry-After` says. One pause is shared by all requests
in flight and reported once.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from .api import REMAINING_HEADER
from .errors import WaitRequired

RATE_LIMIT = "rate limit"  # a 429's Retry-After
ALLOWANCE = "allowance"  # x-per-minute-remaining reached 0
BACKOFF = "backoff"  # after a server error or a failed connection


@dataclass(frozen=True, slots=True)
class Wait:
    """A pause the client makes: `seconds` it sleeps, `reason` (RATE_LIMIT, ALLOWANCE or
    BACKOFF), the HTTP status that caused it (None for a connection failure or the allowance),
    and `asked` seconds, what the server asked for when `max_wait` shortened it."""

    seconds: float
    reason: str
    status: int | None = None
    asked: float | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of 429, 500, 502, 503 and connection errors, with exponential backoff and
    jitter: the n-th retry waits between half and all of min(max_backoff, backoff * 2**(n-1))
    (a `Retry-After` overrides it). `max_retries` bounds the retries of one request; `budget`
    bounds the retries of a whole call (None: 10 plus one per request the call plans or adds
    by splitting a batch or resending one)."""

    max_retries: int = 10
    backoff: float = 0.5
    max_backoff: float = 30.0
    budget: int | None = None

    def delay(self, retry: int, rng: random.Random) -> float:
        ceiling = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def budget_for(self, planned_requests: int) -> int:
        return self.budget if self.budget is not None else 10 + planned_requests


def retry_after(headers: Mapping[str, str], wall: float) -> float | None:
    """Seconds of a `Retry-After` header (a number, or an HTTP date), if there is one."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - wall, 0.0)
    except (TypeError, ValueError):
        return None


_RESET = re.compile(r"\bt=(\d+)")


def seconds_to_reset(headers: Mapping[str, str], wall: float) -> float:
    """When the current minute of the allowance ends: the `RateLimit` field's `t=`, X's
    `x-rate-limit-reset` (epoch seconds), or else the next minute of the wall clock."""
    found = _RESET.search(headers.get("ratelimit", ""))
    if found:
        return float(found.group(1))
    reset = headers.get("x-rate-limit-reset", "")
    if reset.isdigit():
        return max(int(reset) - wall, 0.0)
    return 60.0 - wall % 60.0


Report = Callable[[Wait], None]
Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """Shared by every request of a client: `acquire` before sending, `settle` with each answer
    (or `release` when none came)."""

    def __init__(
        self,
        report: Report,
        wait: bool = True,
        max_wait: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._report = report
        self._wait = wait
        self._max_wait = max_wait
        self._now = monotonic
        self._wall = wall
        self._sleep = sleep
        self._budget: int | None = None  # requests left in this minute, None: unknown
        self._window_end = 0.0
        self._blocked_until = 0.0  # after a 429
        self._inflight = 0
        self._pause: asyncio.Future | None = None
        self.waits = 0
        self.waited = 0.0

    async def acquire(self) -> None:
        while True:
            pause = self._pause
            if pause is not None:
                if not pause.done():
                    await asyncio.shield(pause)
                elif not pause.cancelled():
                    pause.result()  # wait=False: its WaitRequired, for this request too
                # Done, and its callback may not have run yet: awaiting a done future does
                # not yield, so without this the loop would spin and never run it.
                self._paused(pause)
                continue
            now = self._now()
            if now < self._blocked_until:
                seconds, reason, status = self._blocked_until - now, RATE_LIMIT, 429
            elif self._budget is not None and self._budget <= 0 and now < self._window_end:
                seconds, reason, status = self._window_end - now, ALLOWANCE, None
            else:
                if self._budget is not None:
                    self._budget -= 1
                self._inflight += 1
                return
            self._pause = asyncio.ensure_future(self._pausing(seconds, reason, status))
            self._pause.add_done_callback(self._paused)

    async def _pausing(self, asked: float, reason: str, status: int | None) -> None:
        if not self._wait:
            raise WaitRequired(asked, reason)
        seconds = asked if self._max_wait is None else min(asked, self._max_wait)
        self.waits += 1
        self._report(Wait(seconds, reason, status, asked if seconds < asked else None))
        await self._sleep(seconds)
        self.waited += seconds

    def _paused(self, pause: asyncio.Future) -> None:
        if self._pause is not pause:  # already taken into account
            return
        self._pause = None
        if pause.cancelled() or pause.exception() is not None:
            return  # not waited (wait=False): every later request is refused the same way
        # The pause is over (or cut short by max_wait): the next answer tells the allowance.
        self._budget = None
        self._blocked_until = 0.0

    def settle(self, status: int, headers: Mapping[str, str], retry_after_s: float | None) -> None:
        self._inflight = max(self._inflight - 1, 0)
        now, wall = self._now(), self._wall()
        remaining = headers.get(REMAINING_HEADER)
        if remaining is not None and remaining.strip().isdigit():
            # Requests still in flight were sent before this count was made: spend them too.
            self._budget = int(remaining) - self._inflight
            self._window_end = now + seconds_to_reset(headers, wall)
        if status == 429:
            pause = retry_after_s if retry_after_s is not None else seconds_to_reset(headers, wall)
            self._blocked_until = max(self._blocked_until, now + pause)

    def release(self) -> None:
        self._inflight = max(self._inflight - 1, 0)

    async def backoff(self, seconds: float, status: int | None) -> None:
        """A retry's pause after a server error or a failed connection (not shared)."""
        self._report(Wait(seconds, BACKOFF, status))
        await self._sleep(seconds)
        self.waited += seconds
