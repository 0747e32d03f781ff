"""The ASGI entry point: the engagement endpoints straight from ASGI, everything else through
Starlette. The engagement routes only read the request, call `engagement.handle`, and write
the answer: nothing between the socket and the request function but what HTTP needs.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette

from .. import spec
from ..auth import SignedRequest
from ..engagement import Answer, EngagementRequest, Services, error_body, handle
from ..errors import ApiError
from .http import JSON, MAX_BODY, decode_body, encoded, signing_urls

log = logging.getLogger("engagement_api.server")

_ROUTES = {endpoint.path: endpoint for endpoint in spec.ENDPOINTS}
_WANTED = frozenset(
    {b"authorization", b"content-encoding", b"accept-encoding", b"host", b"content-length"}
    | {b"x-forwarded-proto", b"x-forwarded-host"}
)


class Application:
    def __init__(self, services: Services, others: Starlette) -> None:
        self.services = services
        self.others = others

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = _ROUTES.get(scope["path"])
            if endpoint is not None:
                await self._engagement(endpoint, scope, receive, send)
                return
        await self.others(scope, receive, send)

    async def _engagement(self, endpoint, scope, receive, send) -> None:
        headers = _headers(scope)
        try:
            raw = await _read_body(receive, MAX_BODY)
        except ApiError as error:
            await _send(send, Answer(error.status, error_body(error), error.headers), headers)
            return
        server = scope.get("server") or ("localhost", None)
        signed = SignedRequest(
            method="POST",
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
        request = EngagementRequest(
            signed, lambda: decode_body(raw, headers.get("content-encoding"))
        )
        try:
            answer = handle(endpoint, request, self.services)
        except Exception:
            log.exception("error answering POST %s", scope["path"])
            answer = Answer(500, error_body(ApiError(500, "Internal server error")))
        await _send(send, answer, headers)


def _headers(scope) -> dict[str, str]:
    """The request headers the engagement routes read; the first of repeated ones."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED:
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


async def _read_body(receive, limit: int) -> bytes:
    parts = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "The client closed the connection before the body arrived")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"Request body is larger than {limit} bytes")
        parts.append(chunk)
        if not message.get("more_body"):
            return parts[0] if len(parts) == 1 else b"".join(parts)


async def _send(send, answer: Answer, request_headers: dict[str, str]) -> None:
    body, headers = encoded(answer.body, request_headers.get("accept-encoding"), answer.headers)
    raw = [(b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": answer.status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
