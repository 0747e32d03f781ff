"""Historical ranges of any length as windows the API accepts (at most 28 days each).

Windows are half-open and consecutive, so every hour of the range is asked exactly once; the
day a boundary falls in is asked in two parts, which add up when the answers are merged. A
range the API could never answer (starting before 2014-09-01, ending in the future) is
refused here, before any request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from .api import HISTORICAL_MAX, HISTORICAL_MIN_START, HOUR

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)"
)

Instant = str | datetime | date


@dataclass(frozen=True, slots=True)
class Window:
    """One request's `start` and `end` as sent (None: left to the API's default), and the
    hours it covers (None where the API decides)."""

    start: str | None
    end: str | None
    first_hour: int | None = None
    end_hour: int | None = None


def parse_instant(value: Instant, name: str = "time") -> tuple[str, float]:
    """(the text to send, seconds since the epoch) of a date, a date-time with a zone, or a
    string in either of the API's forms (`YYYY-MM-DD`, ISO 8601 with `Z` or an offset)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name} {value!r} has no time zone (use tzinfo=UTC)")
        seconds = value.timestamp()
        return format_instant(seconds), seconds
    if isinstance(value, date):
        seconds = datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
        return value.isoformat(), seconds
    text = str(value).strip()
    try:
        if _DATE.fullmatch(text):
            return text, datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
        if _DATETIME.fullmatch(text):
            normal = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), text)
            return text, datetime.fromisoformat(normal.upper().replace("Z", "+00:00")).timestamp()
    except ValueError:
        pass
    raise ValueError(f"{name} {text!r} is neither YYYY-MM-DD nor an ISO 8601 date-time with a zone")


def format_instant(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def floor_hour(seconds: float) -> int:
    return int(seconds // HOUR) * HOUR


def ceil_hour(seconds: float) -> int:
    floored = floor_hour(seconds)
    return floored if floored == seconds else floored + HOUR


def plan(start: Instant | None, end: Instant | None, now: float) -> list[Window]:
    """The windows of a historical range, in time order.

    Neither bound: one request with neither (the API's previous four weeks). Only `end`: one
    request, as the API defines it (the four weeks before `end`). Only `start`: windows from
    `start` to now, the last one sent with `start` alone so that the API ends it at its own
    current hour. Both: windows from `start` to `end`, the first and last sent with the
    bounds as given (the API rounds them, and checks "no future end" on the `end` given).
    """
    if start is None and end is None:
        return [Window(None, None)]
    if end is not None:
        end_text, end_s = parse_instant(end, "end")
        if end_s > now:
            raise ValueError(f"end {end_text} is in the future; the API serves no future hours")
    if start is None:
        first = max(ceil_hour(end_s) - HISTORICAL_MAX, HISTORICAL_MIN_START)
        return [Window(None, end_text, first, ceil_hour(end_s))]
    start_text, start_s = parse_instant(start, "start")
    first = floor_hour(start_s)
    if first < HISTORICAL_MIN_START:
        raise ValueError(f"start {start_text} is before 2014-09-01, the earliest the API serves")
    if end is None:
        last = floor_hour(now) + HOUR  # the API ends an open range with its current hour
        if first >= last:
            raise ValueError(f"start {start_text} is in the future")
    else:
        last = ceil_hour(end_s)
        if first >= last:
            raise ValueError(f"start {start_text} is not before end {end_text}")
    windows: list[Window] = []
    at = first
    while at < last:
        until = min(at + HISTORICAL_MAX, last)
        final = until == last
        sent_start = start_text if at == first else format_instant(at)
        if not final:
            sent_end: str | None = format_instant(until)
        else:
            sent_end = end_text if end is not None else None
        windows.append(Window(sent_start, sent_end, at, until))
        at = until
    return windows
