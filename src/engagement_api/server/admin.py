"""`POST /admin/ingest`: live NDJSON batches, whole or not at all, once per Idempotency-Key."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..auth import check_admin
from ..engagement import Services
from ..errors import ApiError
from ..ingest import BatchRejected, ingest_batch
from ..ingest.readers import NdjsonLines
from ..store import Store
from .asgi import body_of
from .http import decoded_body, json_response

MAX_KEY = 255


def admin_ingest_handler(services: Services):
    """The route's handler. Batches run in a worker thread on their own store connection, so
    queries keep being answered (and, on SQLite's WAL, read the last committed state)."""
    clock = services.clock

    async def handle(request: Request) -> Response:
        raw = body_of(request)
        services.memory.refresh()
        check_admin(services.memory.accounts, request.headers.get("authorization", ""))
        key = request.headers.get("idempotency-key", "").strip()
        if not key:
            raise ApiError(400, "The Idempotency-Key header is required")
        if len(key) > MAX_KEY:
            raise ApiError(400, f"The Idempotency-Key must be at most {MAX_KEY} characters")
        try:
            # Unpacking, parsing and applying all run off the event loop, so queries go on.
            summary = await run_in_threadpool(
                _ingest, services.writer, request, raw, "admin:" + key, clock.now()
            )
        except BatchRejected as rejected:
            if not rejected.count:
                raise ApiError(400, "The batch holds no records") from None
            listed = [f"line {line}: {reason}" for line, reason in rejected.rejections]
            more = rejected.count - len(listed)
            tail = [f"... and {more} more rejected records"] if more > 0 else []
            if rejected.unread:
                tail.append(f"... and {rejected.unread} more lines not read")
            raise ApiError(400, *listed, *tail) from None
        return json_response(
            request,
            200,
            {
                "idempotency_key": key,
                "applied": summary.already_ingested == 0,
                "records": summary.records,
                "posts": summary.posts,
                "events": summary.events,
            },
        )

    return handle


def _ingest(store: Store, request: Request, raw: bytes, key: str, now: float):
    return ingest_batch(store, NdjsonLines(decoded_body(request, raw)), key, now)
