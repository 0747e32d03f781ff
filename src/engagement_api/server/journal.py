"""Entries of the request journal (`GET /_control/requests`): what the server received and
why it refused it. Never a secret: an OAuth signature that did not verify is shown by the
base string the server built and the parameters it used, which hold no secret."""

from __future__ import annotations

import os
import time

import orjson

from ..engagement import Trace


def kept(path: str) -> bool:
    """The journal's own routes and `/health` are left out."""
    return not path.startswith("/_control/") and path != "/health"


def entry(
    scope,
    status: int,
    started: float,
    trace: Trace | None = None,
    reason: str | None = None,
    fault: str | None = None,
) -> dict:
    now = time.time()
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        + f".{int(now % 1 * 1000):03d}Z",
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        "fault": fault,
        "worker": os.getpid(),
    }
    if trace is not None:
        record |= {
            "auth": trace.auth,
            "app_id": trace.app_id,
            "user_id": trace.user_id,
            "ids": list(trace.ids),
            "metrics": list(trace.metrics),
            "reason": trace.reason,
        }
        if trace.base_strings:
            record["signature_base_strings"] = list(trace.base_strings)
            record["signed_parameters"] = [list(p) for p in trace.parameters]
    else:
        record["reason"] = reason
    return record


class Seen:
    """A `send` that notes the status and the first error text of what a route answers."""

    def __init__(self, send) -> None:
        self._send = send
        self.status = 0
        self.reason: str | None = None
        self._gzipped = False

    async def send(self, message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self._gzipped = (b"content-encoding", b"gzip") in message.get("headers", [])
        elif message["type"] == "http.response.body" and self.status >= 400 and not self.reason:
            self.reason = _first_error(message.get("body", b""), self._gzipped)
        await self._send(message)


def _first_error(body: bytes, gzipped: bool) -> str | None:
    try:
        if gzipped:
            import gzip

            body = gzip.decompress(body)
        errors = orjson.loads(body).get("errors")
        return errors[0] if errors else None
    except (ValueError, OSError, AttributeError, TypeError):
        return None
