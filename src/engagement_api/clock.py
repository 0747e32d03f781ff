"""Injectable clocks: nothing else reads the wall clock directly.

The data clock answers every time rule of the API (28-hour windows, age limits, "no future
end"); `--now` freezes it. OAuth timestamps and nonces are checked against a wall clock,
because signing clients stamp real time (RULES.md D11).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch, UTC."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FrozenClock:
    def __init__(self, instant: float) -> None:
        self.instant = instant

    def now(self) -> float:
        return self.instant


def clock_from(now: float | None) -> Clock:
    """The data clock: frozen at `now` when given, the system clock otherwise."""
    return SystemClock() if now is None else FrozenClock(now)
