"""HTTP/1.1 connections that cost an attacker more than the server: uvicorn's httptools
protocol with bounds on what a request may send before the application sees it.

- The request line and headers: at most `MAX_HEADER_BYTES` and `MAX_HEADERS` (431).
- Time: a connection must complete its request headers within `HEADER_TIMEOUT` seconds of
  connecting or of starting a request (slowloris, idle sockets), and a body must keep
  arriving (`BODY_IDLE_TIMEOUT` between chunks); otherwise it is answered 408 and closed.
- Connections: at most `MAX_CONNECTIONS` open per worker; one more is answered 503 and closed
  at once, so the others (and `/health`) keep working.
Every refusal is a JSON `{"errors": [...]}` answer, like every other non-200 of the server.
"""

from __future__ import annotations

import asyncio
import os
import resource

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .limits import (
    BODY_IDLE_TIMEOUT,
    HEADER_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_HEADER_BYTES,
    MAX_HEADERS,
)

_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


ABORT = "engagement_api.abort"  # the scope extension that drops the connection
_PIECE = 8 * 1024  # bytes fed to the parser at a time while headers are arriving


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class GuardedProtocol(HttpToolsProtocol):
    # Class attributes, so a deployment (or a test) can subclass with other bounds.
    max_header_bytes = MAX_HEADER_BYTES
    max_headers = MAX_HEADERS
    header_timeout = HEADER_TIMEOUT
    body_idle_timeout = BODY_IDLE_TIMEOUT
    max_connections = MAX_CONNECTIONS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._timer: asyncio.TimerHandle | None = None
        self._in_headers, self._header_bytes = True, 0
        if len(self.connections) > self.max_connections:
            self._refuse(503, f"Too many open connections: at most {self.max_connections}; retry")
            return
        self._arm(self.header_timeout, "The request headers did not arrive in time")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            if self._in_headers:  # fed in pieces: the parser holds a header until it ends
                view = memoryview(data)
                for start in range(0, len(data), _PIECE):
                    piece = view[start : start + _PIECE]
                    self.parser.feed_data(piece)
                    if self._in_headers:
                        self._count(len(piece))
            else:
                self.parser.feed_data(data)
        except _Refused as refused:
            self._refuse(refused.status, refused.message)
        except httptools.HttpParserCallbackError as error:
            refused = error.__context__ if isinstance(error.__context__, _Refused) else None
            if refused is None:
                raise
            self._refuse(refused.status, refused.message)
        except httptools.HttpParserUpgrade:
            self._refuse(400, "Protocol upgrades are not supported")
        except httptools.HttpParserError:
            self._refuse(400, "Invalid HTTP request")

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        # What the application may do to this connection besides answering: drop it, as a
        # fault rule with "reset" asks (the client sees the connection reset).
        self.scope["extensions"] = {ABORT: self.transport.abort}
        if self._timer is None:
            self._arm(self.header_timeout, "The request headers did not arrive in time")

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= self.max_headers:
            raise _Refused(431, f"Too many request headers: at most {self.max_headers}")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm()
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.more_body and self._expects_body():
            self._arm(self.body_idle_timeout, "The request body stopped arriving")

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._timer is not None:
            self._arm(self.body_idle_timeout, "The request body stopped arriving")

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_headers, self._header_bytes = True, 0  # what comes next is another request
        super().on_message_complete()

    # Bounds
    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes:
            raise _Refused(
                431, f"Request line and headers are larger than {self.max_header_bytes} bytes"
            )

    def _expects_body(self) -> bool:
        for name, value in self.headers:
            if name == b"content-length":
                return value.strip() not in (b"", b"0")
            if name == b"transfer-encoding":
                return True
        return False

    def _arm(self, seconds: float, message: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired, message)

    def _disarm(self) -> None:
        if getattr(self, "_timer", None) is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, message: str) -> None:
        self._timer = None
        if self.cycle is not None and self.cycle.response_started:
            return  # the application is answering: its own time
        self._refuse(408, message)

    def _refuse(self, status: int, message: str) -> None:
        """Answer with a JSON error and close the connection."""
        self._disarm()
        if self.cycle is not None:
            self.cycle.disconnected = True  # the application's receive() sees the end
            self.cycle.message_event.set()
        if self.transport.is_closing():
            return
        body = orjson.dumps({"errors": [message]})
        head = b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])
        self.transport.write(
            head
            + b"content-type: application/json\r\n"
            + b"content-length: %d\r\n" % len(body)
            + b"connection: close\r\n\r\n"
            + body
        )
        self.transport.close()


BOUNDS_ENV = "ENGAGEMENT_API_HTTP_BOUNDS"  # JSON: the class attributes `serve` was given


def configure(**bounds: float) -> None:
    """Set the bounds of every connection of this process (and, through the environment, of
    the worker processes `serve --workers` starts)."""
    for name, value in bounds.items():
        if not hasattr(GuardedProtocol, name):
            raise ValueError(f"no such bound: {name}")
        setattr(GuardedProtocol, name, type(getattr(GuardedProtocol, name))(value))
    os.environ[BOUNDS_ENV] = orjson.dumps(bounds).decode()


if os.environ.get(BOUNDS_ENV):  # a worker process: the bounds its `serve` was given
    configure(**orjson.loads(os.environ[BOUNDS_ENV]))


def raise_open_files_limit(wanted: int = 65536) -> int:
    """Lift this process's soft limit on open files towards the hard one (idle sockets must
    not run a worker out of descriptors before MAX_CONNECTIONS refuses politely)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft
