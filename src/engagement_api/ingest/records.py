"""Raw records -> validated posts and engagement events, or a reason for rejecting them.

The record format (issue "The Engagement API server"; RULES.md D38):

    {"record": "post", "id": "...", "author_id": "...", "handle": "...", "created_at": "...",
     "protected": false, "deleted": false, "video_id": "v1"}
    {"record": "engagement", "post_id": "...", "type": "favorites", "at": "...", "count": 1,
     "promoted": false}
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ids import parse_id
from ..spec import EVENT_TYPES
from ..times import parse_instant

# Every field of both record kinds: the columns of CSV and Parquet input.
RECORD_FIELDS = (
    "record",
    "id",
    "author_id",
    "handle",
    "created_at",
    "protected",
    "deleted",
    "video_id",
    "post_id",
    "type",
    "at",
    "count",
    "promoted",
)


class Rejected(ValueError):
    """A record that cannot be applied; the message is the reason shown to the user."""


@dataclass(frozen=True, slots=True)
class PostRecord:
    id: int
    author_id: int
    handle: str
    created_ms: int | None
    protected: bool | None  # None: keep the stored value (False for a new post)
    deleted: bool | None
    video_id: str | None  # "" clears a stored video id


@dataclass(frozen=True, slots=True)
class EventRecord:
    post_id: int
    type: str
    at: float
    count: int
    promoted: bool


def parse_record(record: dict) -> PostRecord | EventRecord:
    kind = record.get("record")
    if kind == "post":
        return _post(record)
    if kind == "engagement":
        return _event(record)
    if kind is None:
        raise Rejected("missing field: record")
    raise Rejected(f"unknown record kind: {kind!r} (expected 'post' or 'engagement')")


def _required(record: dict, name: str) -> object:
    value = record.get(name)
    if value is None:
        raise Rejected(f"missing field: {name}")
    return value


def _id(record: dict, name: str) -> int:
    value = _required(record, name)
    parsed = parse_id(value)
    if parsed is None:
        raise Rejected(f"{name} must be a positive decimal id below 2^63, not {value!r}")
    return parsed


def _bool(record: dict, name: str) -> bool | None:
    value = record.get(name)
    if value is None or type(value) is bool:
        return value
    raise Rejected(f"{name} must be true or false, not {value!r}")


def _instant(record: dict, name: str) -> float:
    value = _required(record, name)
    if not isinstance(value, str):
        raise Rejected(f"{name} must be an ISO 8601 date-time string, not {value!r}")
    try:
        return parse_instant(value)
    except ValueError:
        raise Rejected(f"{name} is not an ISO 8601 date-time with a zone: {value!r}") from None


def _post(record: dict) -> PostRecord:
    post_id = _id(record, "id")
    author_id = _id(record, "author_id")
    handle = _required(record, "handle")
    if not isinstance(handle, str) or not handle.strip().removeprefix("@"):
        raise Rejected(f"handle must be a non-empty string, not {handle!r}")
    handle = handle.strip().removeprefix("@")
    created_ms = None
    if record.get("created_at") is not None:
        created_ms = int(_instant(record, "created_at") * 1000)
    video_id = record.get("video_id")
    if video_id is not None:
        if type(video_id) is int:
            video_id = str(video_id)
        if not isinstance(video_id, str):
            raise Rejected(f"video_id must be a string, not {video_id!r}")
        video_id = video_id.strip()
    return PostRecord(
        post_id,
        author_id,
        handle,
        created_ms,
        _bool(record, "protected"),
        _bool(record, "deleted"),
        video_id,
    )


def _event(record: dict) -> EventRecord:
    post_id = _id(record, "post_id")
    kind = _required(record, "type")
    if kind == "engagements":
        raise Rejected("type engagements is derived from the other events and cannot be ingested")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise Rejected(f"unknown event type: {kind!r}")
    at = _instant(record, "at")
    count = record.get("count", 1)
    if type(count) is not int:
        raise Rejected(f"count must be an integer, not {count!r}")
    if count < 1:
        raise Rejected(f"count must be at least 1, not {count}")
    promoted = _bool(record, "promoted")
    return EventRecord(post_id, kind, at, count, bool(promoted))
