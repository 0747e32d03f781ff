"""The `/_control/` routes of the integrator's toolkit (`serve --control`), authenticated with
an admin token, JSON in and out:

    POST /_control/faults     add a fault rule            GET lists them, DELETE clears them
    GET  /_control/clock      the data clock              PUT {"now": ...} / {"advance": ...}
    GET  /_control/requests   the journal, newest first   DELETE empties it
    POST /_control/reset      empty the engagement data   GET /_control/state counts it
"""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth import check_admin
from ..control import parse_rule
from ..engagement import Services
from ..errors import ApiError
from .asgi import body_of
from .http import json_response

MAX_LISTED = 1000


def control_routes(services: Services) -> list[Route]:
    control = services.control
    store = services.store

    def admitted(request: Request) -> None:
        services.memory.refresh()
        check_admin(services.memory.accounts, request.headers.get("authorization", ""))

    def document(request: Request) -> object:
        try:
            return orjson.loads(body_of(request) or b"null")
        except orjson.JSONDecodeError:
            raise ApiError(400, "Request body is not valid JSON") from None

    async def faults(request: Request) -> Response:
        admitted(request)
        if request.method == "POST":
            rule = parse_rule(document(request))
            control.add_rule(rule)
            return json_response(request, 201, rule.document(0))
        if request.method == "DELETE":
            control.clear_rules()
        return json_response(request, 200, {"faults": control.rules()})

    async def clock(request: Request) -> Response:
        admitted(request)
        if request.method == "PUT":
            control.set_clock(document(request))
        return json_response(request, 200, control.clock_document())

    async def requests(request: Request) -> Response:
        admitted(request)
        if request.method == "DELETE":
            control.contract.clear_entries()
            return json_response(request, 200, {"requests": []})
        raw = request.query_params.get("limit", "100")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LISTED:
            raise ApiError(400, f"limit must be a whole number from 1 to {MAX_LISTED}")
        return json_response(request, 200, {"requests": control.journal(int(raw))})

    async def reset(request: Request) -> Response:
        admitted(request)
        given = document(request)
        keep = given.get("keep", []) if isinstance(given, dict) else None
        keepable = store.KEEPABLE
        if not isinstance(keep, list) or any(k not in keepable for k in keep):
            raise ApiError(400, f'keep must be a list of {", ".join(keepable)}, e.g. ["apps"]')
        await run_in_threadpool(services.writer.reset, keep)
        return json_response(request, 200, {"kept": keep, "state": store.state()})

    async def state(request: Request) -> Response:
        admitted(request)
        return json_response(request, 200, store.state())

    return [
        Route("/_control/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_control/clock", clock, methods=["GET", "PUT"]),
        Route("/_control/requests", requests, methods=["GET", "DELETE"]),
        Route("/_control/reset", reset, methods=["POST"]),
        Route("/_control/state", state, methods=["GET"]),
    ]
