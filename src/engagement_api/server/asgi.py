"""The ASGI entry point: the engagement endpoints straight from ASGI, everything else through
Starlette. The engagement routes only read the request, call `engagement.handle`, and write
the answer: nothing between the socket and the request function but what HTTP needs.

Every body is read here, bounded while it arrives (`limits.body_limits`: 413 past it, before
authentication and before any decompression), so no route ever holds more than its bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from .. import spec
from ..auth import SignedRequest
from ..engagement import Answer, EngagementRequest, Services, error_body, handle
from ..engagement.pipeline import handle_usage
from ..errors import ApiError
from . import faults, journal
from .http import JSON, decode_body, encoded, signing_urls
from .limits import body_limits
from .protocol import ABORT

log = logging.getLogger("engagement_api.server")

_ROUTES = {endpoint.path: endpoint for endpoint in spec.ENDPOINTS}
BODY = "engagement_api.body"  # the scope key of the body read here, bounded


def body_of(request) -> bytes | bytearray:
    """The request's body as the entry point read it (Starlette's `body()` would copy it)."""
    return request.scope[BODY]


_WANTED = frozenset(
    {b"authorization", b"content-encoding", b"accept-encoding", b"host", b"content-length"}
    | {b"x-forwarded-proto", b"x-forwarded-host"}
)


class Application:
    def __init__(self, services: Services, others: Starlette, control_api: bool = False) -> None:
        self.services = services
        self.others = others
        self.control_api = control_api  # /_control/ routes and the request journal

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.others(scope, receive, send)  # lifespan
            return
        headers = _headers(scope)
        raw_limit, inflated_limit = body_limits(scope["path"])
        try:
            raw = await _read_body(receive, raw_limit, headers.get("content-length"))
        except ApiError as error:  # the body was not read to its end: the connection closes
            refused = Answer(error.status, error_body(error), {"connection": "close"})
            await _send(send, refused, headers)
            return
        path, method = scope["path"], scope["method"]
        started = time.perf_counter()
        control = self.services.control
        endpoint = _ROUTES.get(path) if method == "POST" else None
        if endpoint is not None:
            if control is not None:
                control.refresh()
                rule = control.fault_for(endpoint.name)
                if rule is not None and await self._fault(rule, scope, headers, send, started):
                    return
            request = EngagementRequest(
                signed_request(scope, headers, raw),
                lambda: decode_body(raw, headers.get("content-encoding"), inflated_limit),
            )
            answer = await self._respond(path, lambda: handle(endpoint, request, self.services))
        elif path == spec.USAGE_PATH and method == "GET":
            months = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("month")
            request = EngagementRequest(signed_request(scope, headers, raw), lambda: b"")
            month = months[0] if months else None
            answer = await self._respond(path, lambda: handle_usage(request, month, self.services))
        else:
            scope[BODY] = raw  # routes read it with `body_of`: no second copy of a large body
            seen = journal.Seen(send)
            await self.others(scope, _replay(raw, receive), seen.send)
            if self.journal_on and journal.kept(path):
                control.record(journal.entry(scope, seen.status, started, reason=seen.reason))
            return
        await _send(send, answer, headers)
        if self.journal_on:
            control.record(journal.entry(scope, answer.status, started, answer.trace))

    @property
    def journal_on(self) -> bool:
        return self.services.control is not None and self.control_api

    async def _respond(self, path: str, respond) -> Answer:
        """Answer with a request function: on the event loop, then its store write (if it has
        one) off it."""
        try:
            answer = respond()
            if answer.finish is not None:
                answer = await run_in_threadpool(answer.finish)
        except Exception:
            log.exception("error answering %s", path)
            answer = Answer(500, error_body(ApiError(500, "Internal server error")))
        return answer

    async def _fault(self, rule, scope, headers: dict[str, str], send, started: float) -> bool:
        """Act out a fault rule before any work: delay, drop the connection, or answer its
        status. True when the request is answered (or dropped) by the rule."""
        if rule.latency_ms:
            await asyncio.sleep(rule.latency_ms / 1000)
        answer = None
        if rule.reset and ABORT in scope.get("extensions", {}):
            scope["extensions"][ABORT]()
        elif rule.status is not None:
            answer = faults.answer(rule, self.services, headers.get("authorization", ""))
            await _send(send, answer, headers)
        elif not rule.reset:
            return False  # a delay only: the request goes on
        if self.journal_on:
            status = answer.status if answer else 0
            entry = journal.entry(scope, status, started, fault=rule.id)
            self.services.control.record(entry)
        return True


def signed_request(scope, headers: Mapping[str, str], raw: bytes | bytearray) -> SignedRequest:
    """What OAuth 1.0a verification reads of a request (`headers` by lower-case name)."""
    server = scope.get("server") or ("localhost", None)
    return SignedRequest(
        method=scope["method"],
        urls=signing_urls(
            scope["scheme"],
            scope.get("raw_path", b"").decode("latin-1").partition("?")[0] or scope["path"],
            headers,
            f"{server[0]}:{server[1]}" if server[1] else server[0],
        ),
        query=scope.get("query_string", b"").decode("latin-1"),
        authorization=headers.get("authorization", ""),
        body=raw,
    )


def _headers(scope) -> dict[str, str]:
    """The request headers the routes read here; the first of repeated ones."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED:
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


async def _read_body(receive, limit: int, announced: str | None) -> bytes | bytearray:
    """The whole body, refused (413) as soon as it is announced or found larger than `limit`."""
    too_large = ApiError(413, f"Request body is larger than {limit} bytes")
    if announced is not None:
        if not announced.strip().isdigit():
            raise ApiError(400, "Invalid Content-Length")
        if int(announced) > limit:
            raise too_large
    body = bytearray()  # extended chunk by chunk: no single large copy at the end
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "The client closed the connection before the body arrived")
        chunk = message.get("body", b"")
        if not body and not message.get("more_body"):
            if len(chunk) > limit:
                raise too_large
            return chunk  # the common case: one message, the bytes as they are
        body += chunk
        if len(body) > limit:
            raise too_large
        if not message.get("more_body"):
            return body


def _replay(body: bytes, receive):
    """A `receive` that hands the body already read to the next application, then waits for
    the connection's own messages (its disconnect)."""
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _send(send, answer: Answer, request_headers: dict[str, str]) -> None:
    body, headers = encoded(answer.body, request_headers.get("accept-encoding"), answer.headers)
    raw = [(b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": answer.status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
