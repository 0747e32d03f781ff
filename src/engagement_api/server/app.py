"""The ASGI application: the three engagement endpoints, the OAuth 2.0 token routes, OpenAPI.

Checks run in the documented order (RULES.md section 10): route (404/405) -> authentication
(401) -> app approval (403) -> per-minute allowance (429) -> body and window (400) -> app-only
rights (403) -> ownership (403) -> protected posts (400) -> the answer.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import spec
from ..auth import Principal, SignedRequest, authenticate, bearer
from ..clock import Clock, SystemClock
from ..engagement import answer
from ..errors import ApiError
from ..query import parse_query
from ..spec import Endpoint, Messages
from ..store import Store
from ..store.cached import CachedReads
from .admin import admin_ingest_handler
from .http import decoded_body, error_response, json_response, signing_urls
from .openapi import openapi_document

log = logging.getLogger("engagement_api.server")


def create_app(
    store: Store, clock: Clock | None = None, wall_clock: Clock | None = None
) -> Starlette:
    """`clock` is the data clock of every time rule; `wall_clock` checks OAuth timestamps."""
    clock = clock or SystemClock()
    wall_clock = wall_clock or SystemClock()
    reads = CachedReads(store)  # this worker's memory of posts and totals

    def engagement_route(endpoint: Endpoint) -> Route:
        async def handle(request: Request) -> Response:
            raw = await request.body()
            headers: dict[str, str] = {}
            try:
                principal = authenticate(store, _signed(request, raw), wall_clock.now())
                headers, over_limit = _count_request(store, principal, wall_clock.now())
                if not principal.app.approved:
                    raise ApiError(403, Messages.APP_NOT_AUTHORIZED)
                if over_limit:
                    raise over_limit
                now = clock.now()
                query = parse_query(endpoint, decoded_body(request, raw), now)
                document = answer(reads.fresh(), query, principal, now)
            except ApiError as error:
                error.headers = {**headers, **error.headers}
                return error_response(request, error)
            return json_response(request, 200, document, headers)

        return Route(endpoint.path, handle, methods=["POST"], name=endpoint.name)

    async def token(request: Request) -> Response:
        form = await _form(request)
        try:
            app = bearer.client_app(store, request.headers.get("authorization"))
            if form.get("grant_type") != "client_credentials":
                raise ApiError(400, "grant_type must be client_credentials")
            value = bearer.issue(store, app, int(wall_clock.now()))
        except ApiError as error:
            return error_response(request, error)
        return json_response(request, 200, {"token_type": "bearer", "access_token": value})

    async def invalidate_token(request: Request) -> Response:
        form = await _form(request)
        try:
            app = bearer.client_app(store, request.headers.get("authorization"))
            value = form.get("access_token", "")
            if not value:
                raise ApiError(400, "access_token is required")
            if not store.revoke_bearer_token(
                bearer.credentials.token_hash(value), app.id, int(wall_clock.now())
            ):
                raise ApiError(400, "access_token is not a bearer token of this app")
        except ApiError as error:
            return error_response(request, error)
        return json_response(request, 200, {"access_token": value})

    async def openapi(request: Request) -> Response:
        return json_response(request, 200, openapi_document())

    async def health(request: Request) -> Response:
        return json_response(request, 200, {"status": "ok"})

    async def http_error(request: Request, exc: HTTPException) -> Response:
        text = {404: f"Not found: {request.url.path}", 405: "Method not allowed"}.get(
            exc.status_code, exc.detail
        )
        return error_response(request, ApiError(exc.status_code, text, headers=exc.headers))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("error answering %s %s", request.method, request.url.path)
        return error_response(request, ApiError(500, "Internal server error"))

    routes = [engagement_route(e) for e in spec.ENDPOINTS] + [
        Route("/oauth2/token", token, methods=["POST"]),
        Route("/oauth2/invalidate_token", invalidate_token, methods=["POST"]),
        Route("/admin/ingest", admin_ingest_handler(store, clock), methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error}
    )
    app.router.redirect_slashes = False  # a 307 would carry no JSON body; answer 404 instead
    return app


def _signed(request: Request, raw: bytes) -> SignedRequest:
    return SignedRequest(
        method=request.method,
        urls=signing_urls(request),
        query=request.url.query,
        authorization=request.headers.get("authorization", ""),
        body=raw,
    )


def _count_request(
    store: Store, principal: Principal, wall_now: float
) -> tuple[dict[str, str], ApiError | None]:
    """Count the request against the app's per-minute allowance: headers, and the 429 if over."""
    limit = principal.app.rate_limit
    count = store.count_request(principal.app.id, int(wall_now // 60))
    headers = {spec.LIMIT_HEADER: str(limit), spec.REMAINING_HEADER: str(max(limit - count, 0))}
    if count <= limit:
        return headers, None
    retry = {"retry-after": str(60 - int(wall_now) % 60)}
    return headers, ApiError(429, Messages.RATE_LIMITED.format(limit=limit), headers=retry)


async def _form(request: Request) -> dict[str, str]:
    """Form fields from the query string and an urlencoded body (clients use either)."""
    fields = dict(parse_qsl(request.url.query))
    raw = await request.body()
    with contextlib.suppress(ApiError, UnicodeDecodeError):
        fields.update(parse_qsl(decoded_body(request, raw).decode()))
    return fields


def tune_gc() -> None:
    """Collect less often, and never scan what start-up built: a request makes thousands of
    short-lived objects, and default thresholds turned them into long p99 pauses."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def app_from_env() -> Starlette:
    """The app of one worker process of `serve --workers N`: configured by the environment."""
    import os

    from ..clock import clock_from
    from ..store import open_store
    from ..times import parse_instant

    now = os.environ.get("ENGAGEMENT_API_NOW")
    app = create_app(
        open_store(os.environ["ENGAGEMENT_API_STORE"]),
        clock_from(parse_instant(now) if now else None),
    )
    tune_gc()
    return app
