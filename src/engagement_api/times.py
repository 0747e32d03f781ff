"""Parsing and rendering the instants of the API: UTC, whole hours, `YYYY-MM-DDTHH:MM:SSZ`."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .spec import HOUR

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)"
)


def parse_instant(text: str) -> float:
    """`YYYY-MM-DD` (midnight UTC) or an ISO 8601 date-time with `Z` or an offset.

    Raises ValueError for anything else, including date-times without a zone.
    """
    text = text.strip()
    if _DATE.fullmatch(text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    if not _DATETIME.fullmatch(text):
        raise ValueError(text)
    normalized = text.upper()
    if "." in normalized:  # fromisoformat takes at most 6 fraction digits
        head, _, tail = normalized.partition(".")
        digits = re.match(r"\d+", tail).group(0)
        normalized = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits) :]}"
    return datetime.fromisoformat(normalized.replace("Z", "+00:00")).timestamp()


def format_instant(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def floor_hour(seconds: float) -> int:
    return int(seconds // HOUR) * HOUR


def ceil_hour(seconds: float) -> int:
    floored = floor_hour(seconds)
    return floored if floored == seconds else floored + HOUR


def day_key(hour_start: int) -> str:
    return datetime.fromtimestamp(hour_start, UTC).strftime("%Y-%m-%d")


def hour_key(hour_start: int) -> str:
    return f"{(hour_start // HOUR) % 24:02d}"
