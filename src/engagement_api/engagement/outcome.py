"""What a request is and what it answers, for the request functions and the routes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from .. import spec
from ..auth import SignedRequest
from ..errors import ApiError, Unauthorized


@dataclass(frozen=True, slots=True)
class EngagementRequest:
    signed: SignedRequest  # what authentication reads, the body as sent included
    body: Callable[[], bytes]  # the body decoded (gunzipped); read only once authenticated


@dataclass(slots=True)
class Trace:
    """What the request journal keeps of a request: who asked what, and why it was refused."""

    auth: str | None = None  # "oauth1", "bearer"
    app_id: int | None = None
    user_id: int | None = None
    ids: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    reason: str | None = None
    base_strings: tuple[str, ...] = ()  # of an OAuth 1.0a signature that did not verify
    parameters: list[tuple[str, str]] = field(default_factory=list)  # the ones it signed


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes  # JSON
    headers: dict[str, str] = field(default_factory=dict)
    trace: Trace = field(default_factory=Trace)
    # Work that must be done off the event loop before this answer may be sent (a store
    # write); it returns the answer to send instead.
    finish: Callable[[], Answer] | None = None


def refusal(error: ApiError, trace: Trace, headers: dict[str, str] | None = None) -> Answer:
    trace.reason = error.messages[0]
    if isinstance(error, Unauthorized):
        trace.base_strings, trace.parameters = error.base_strings, error.parameters
    return Answer(error.status, error_body(error), {**(headers or {}), **error.headers}, trace)


def error_body(error: ApiError) -> bytes:
    """The body of every non-200 answer, on every path: `{"errors": [...]}`."""
    return orjson.dumps({spec.ERRORS_KEY: error.messages})
