"""The ASGI application: the three engagement endpoints, the OAuth 2.0 token routes, live
ingest, OpenAPI and health, the web pages (sign-in, the 3-legged flow, the portal, the
dashboard). The engagement endpoints are answered by `engagement.handle`
(the documented order lives there); the other routes raise `ApiError`, answered by one
registered handler.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import spec
from ..auth import bearer
from ..clock import Clock, SystemClock
from ..contract import REDIS_ENV, Contract, open_contract
from ..contract.local import MemoryContract
from ..control import Control, FaultRule
from ..engagement import Services
from ..errors import ApiError
from ..store import Store

if TYPE_CHECKING:
    from ..store.replicas import ReadRouter
from .admin import admin_ingest_handler
from .asgi import Application, body_of
from .control import control_routes
from .http import decoded_body, error_response, json_response
from .openapi import openapi_document
from .pages import Pages
from .portal import portal_routes
from .sign_in import sign_in_routes

log = logging.getLogger("engagement_api.server")
CONTROL_ENV = "ENGAGEMENT_API_CONTROL"  # "1": serve --control
FAULTS_ENV = "ENGAGEMENT_API_FAULTS"  # "1": serve --fault was given


def create_app(
    store: Store,
    clock: Clock | None = None,
    wall_clock: Clock | None = None,
    contract: Contract | None = None,
    control_api: bool = False,
    faults: tuple[FaultRule, ...] | None = None,
    toolkit: bool = False,
    read_router: ReadRouter | None = None,
) -> Application:
    """`clock` is the data clock of every time rule; `wall_clock` checks OAuth timestamps;
    `contract` keeps allowances and nonces (this process's memory when not given).
    `control_api` serves the integrator's toolkit under /_control/. The toolkit's settings
    (faults, the clock) apply with `control_api`, `faults` or `toolkit`; `faults` also starts
    them anew with those rules, clearing an earlier run's (`serve` does that once for all its
    workers, which pass `toolkit` only). `read_router` sends the engagement reads to read
    replicas of `store`."""
    contract = contract or MemoryContract()
    clock, wall_clock = clock or SystemClock(), wall_clock or SystemClock()
    control = None
    if control_api or toolkit or faults is not None:
        control = Control(contract, clock, wall_clock)
        if faults is not None:
            control.start(list(faults))
    services = Services(
        store, contract, clock, wall_clock, control=control, read_router=read_router
    )
    accounts = services.memory.accounts
    wall = services.wall_clock

    async def token(request: Request) -> Response:
        form = await _form(request)
        services.memory.refresh()
        app = bearer.client_app(accounts, request.headers.get("authorization"))
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, "grant_type must be client_credentials")
        value = await run_in_threadpool(bearer.issue, services.writer, app, int(wall.now()))
        return json_response(request, 200, {"token_type": "bearer", "access_token": value})

    async def invalidate_token(request: Request) -> Response:
        form = await _form(request)
        services.memory.refresh()
        app = bearer.client_app(accounts, request.headers.get("authorization"))
        value = form.get("access_token", "")
        if not value:
            raise ApiError(400, "access_token is required")
        revoked = await run_in_threadpool(
            services.writer.revoke_bearer_token,
            bearer.credentials.token_hash(value),
            app.id,
            int(wall.now()),
        )
        if not revoked:
            raise ApiError(400, "access_token is not a bearer token of this app")
        return json_response(request, 200, {"access_token": value})

    async def openapi(request: Request) -> Response:
        return json_response(request, 200, openapi_document())

    async def health(request: Request) -> Response:
        return json_response(request, 200, {"status": "ok"})

    async def api_error(request: Request, error: ApiError) -> Response:
        return error_response(request, error)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        text = {404: f"Not found: {request.url.path}", 405: "Method not allowed"}.get(
            exc.status_code, exc.detail
        )
        return error_response(request, ApiError(exc.status_code, text, headers=exc.headers))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("error answering %s %s", request.method, request.url.path)
        return error_response(request, ApiError(500, "Internal server error"))

    routes = [Route(e.path, _never, methods=["POST"], name=e.name) for e in spec.ENDPOINTS] + [
        Route(spec.USAGE_PATH, _never, methods=["GET"]),
        Route("/oauth2/token", token, methods=["POST"]),
        Route("/oauth2/invalidate_token", invalidate_token, methods=["POST"]),
        Route("/admin/ingest", admin_ingest_handler(services), methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    pages = Pages(services)
    routes += sign_in_routes(pages) + portal_routes(pages)
    if control_api:
        routes += control_routes(services)
    others = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: api_error,
            HTTPException: http_error,
            Exception: server_error,
        },
    )
    others.router.redirect_slashes = False  # a 307 would carry no JSON body; answer 404 instead
    return Application(services, others, control_api)


async def _never(request: Request) -> Response:
    """The Engagement API routes are answered before Starlette; listed for 405 on other
    methods."""
    raise HTTPException(405)


async def _form(request: Request) -> dict[str, str]:
    """Form fields from the query string and an urlencoded body (clients use either)."""
    fields = dict(parse_qsl(request.url.query))
    raw = body_of(request)
    with contextlib.suppress(ApiError, UnicodeDecodeError):
        fields.update(parse_qsl(decoded_body(request, raw).decode()))
    return fields


def tune_gc() -> None:
    """Collect less often, and never scan what start-up built: a request makes thousands of
    short-lived objects, and default thresholds turned them into long p99 pauses."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def read_router_from_env(store: Store) -> ReadRouter | None:
    """The read replicas `serve` was given (ENGAGEMENT_API_READ_STORES), if any."""
    from ..store import READ_STORES_ENV
    from ..store.replicas import ReadRouter, read_stores_from_env

    urls, max_lag = read_stores_from_env()
    if not urls:
        return None
    log.info("engagement reads: %d read store(s) from %s", len(urls), READ_STORES_ENV)
    return ReadRouter(store, urls, max_lag)


def app_from_env() -> Application:
    """The app of one worker process of `serve --workers N`: configured by the environment."""
    import os

    from ..clock import clock_from
    from ..store import open_store
    from ..times import parse_instant

    now = os.environ.get("ENGAGEMENT_API_NOW")
    url = os.environ["ENGAGEMENT_API_STORE"]
    control = os.environ.get(CONTROL_ENV) == "1"
    store = open_store(url)
    app = create_app(
        store,
        clock_from(parse_instant(now) if now else None),
        contract=open_contract(url, os.environ.get(REDIS_ENV)),
        control_api=control,
        toolkit=os.environ.get(FAULTS_ENV) == "1",  # serve started the settings: follow them
        read_router=read_router_from_env(store),
    )
    tune_gc()
    return app
