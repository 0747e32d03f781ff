"""One Engagement API request, in the documented order (RULES.md section 10), without HTTP.

authentication (401) -> per-minute allowance (429) -> app approval (403) -> body and window
(400) -> app-only rights (403) -> ownership (403) -> protected posts (400) -> the answer.

The allowance comes right after authentication so that every answered request of an app
counts, refusals included, and a 429 counts nothing. The OAuth nonce is spent in the same
contract operation as the count (one round trip to a shared backend). The routes read the
HTTP request into an `EngagementRequest` and write the `Answer` back; nothing here knows HTTP.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from .. import spec
from ..auth import Principal, authenticate, kind_of
from ..clock import Clock
from ..contract import Contract, ContractUnavailable, nonce_key
from ..control import Control
from ..errors import ApiError, Unauthorized
from ..query import Query, parse_query
from ..spec import Endpoint, Messages
from ..store import Store, second_connection
from ..store.cached import MAX_POSTS, WorkerMemory
from .answer import answer
from .outcome import Answer, EngagementRequest, Trace, refusal
from .rendered import MAX_BYTES, RenderedMembers
from .usage import HandleUsage, billing_month, parse_month, usage_document

if TYPE_CHECKING:  # psycopg is imported only when replicas are used
    from ..store.replicas import ReadRouter


class Services:
    """What every request of one worker shares: its memory of the store, the contract, the
    data clock of every time rule and the wall clock of OAuth timestamps (RULES.md D11)."""

    def __init__(
        self,
        store: Store,
        contract: Contract,
        clock: Clock,
        wall_clock: Clock,
        max_posts: int = MAX_POSTS,
        max_rendered_bytes: int = MAX_BYTES,
        control: Control | None = None,
        read_router: ReadRouter | None = None,
    ) -> None:
        self.store = store  # the primary, read on the event loop; never written there
        self._writer: Store | None = None
        self.memory = WorkerMemory(store, max_posts, read_router)
        self.rendered = RenderedMembers(self.memory.reads, max_rendered_bytes)
        self.usage = HandleUsage()
        self.contract = contract
        self.wall_clock = wall_clock
        # The toolkit (faults, a movable clock), when the server was started with it.
        self.control = control
        self.clock = control.clock if control is not None else clock

    @property
    def writer(self) -> Store:
        """A connection of its own for writes, used off the event loop: a write that waits
        (on an ingest holding SQLite's lock) never holds the connection the loop reads."""
        if self._writer is None:
            self._writer = second_connection(self.store)
        return self._writer


def handle(endpoint: Endpoint, request: EngagementRequest, services: Services) -> Answer:
    """One request to /totals, /28hr or /historical."""

    def respond(principal: Principal, trace: Trace) -> Answer:
        now = services.clock.now()
        query = parse_query(endpoint, request.body(), now)
        trace.ids, trace.metrics = query.keys, query.metrics_key
        check_rights(query, principal)
        body = services.rendered.answer(query, principal, now)
        if body is None:
            body = answer(services.memory.reads, query, principal, now)
        return services.usage.counted(Answer(200, body, trace=trace), principal, now, services)

    return guarded(request, services, respond)


def handle_usage(request: EngagementRequest, month: str | None, services: Services) -> Answer:
    """`GET /insights/engagement/usage[?month=YYYY-MM]`: the calling app's @handle usage."""

    def respond(principal: Principal, trace: Trace) -> Answer:
        chosen = parse_month(month) if month is not None else billing_month(services.clock.now())
        handles = services.store.handle_usage(chosen, principal.app.id).get(principal.app.id, [])
        document = usage_document(principal.app, chosen, handles)
        return Answer(200, orjson.dumps(document), trace=trace)

    return guarded(request, services, respond)


def guarded(
    request: EngagementRequest,
    services: Services,
    respond: Callable[[Principal, Trace], Answer],
) -> Answer:
    """What every Engagement API request goes through first: authentication (401), the
    per-minute allowance (429), app approval (403); then `respond`. Every answer after
    authentication carries the allowance headers; every refusal is an `errors` body."""
    trace = Trace(auth=kind_of(request.signed.authorization))
    headers: dict[str, str] = {}
    try:
        services.memory.refresh()
        if services.control is not None:
            services.control.refresh()
        wall_now = services.wall_clock.now()
        principal = authenticate(services.memory.accounts, request.signed, wall_now)
        trace.app_id, trace.user_id = principal.app.id, principal.user_id
        app = principal.app
        nonce = nonce_key(app.consumer_key, principal.nonce) if principal.nonce else None
        try:
            admission = services.contract.admit(app.id, app.rate_limit, wall_now, nonce)
        except ContractUnavailable as error:
            log_unavailable(error)
            raise ApiError(503, Messages.CONTRACT_UNAVAILABLE) from None
        if admission.nonce_reused:  # only a correctly signed request spends its nonce
            raise Unauthorized(Messages.NONCE_USED)
        headers = admission.headers()
        if not admission.admitted:
            raise ApiError(
                429,
                Messages.RATE_LIMITED.format(limit=admission.limit),
                headers={"retry-after": str(admission.reset)},
            )
        if not principal.app.approved:
            raise ApiError(403, Messages.APP_NOT_AUTHORIZED)
        answered = respond(principal, trace)
        answered.headers = {**headers, **answered.headers}
        return answered
    except ApiError as error:
        return refusal(error, trace, headers)


_log = logging.getLogger("engagement_api.contract")
_last_logged = [-math.inf]


def log_unavailable(error: Exception) -> None:
    """Once a minute at most: every request fails the same way while it lasts."""
    now = time.monotonic()
    if now - _last_logged[0] >= 60:
        _last_logged[0] = now
        _log.error("per-minute allowances cannot be counted, answering 503: %s", error)


def check_rights(query: Query, principal: Principal) -> None:
    """App-only auth reaches the public metrics on /totals only (RULES.md section 9)."""
    if not principal.app_only:
        return
    on_totals = query.endpoint is spec.TOTALS
    refused = [m.name for m in query.metrics if not (on_totals and m.app_only_on_totals)]
    if refused:
        raise ApiError(403, Messages.FORBIDDEN_METRICS.format(metrics=", ".join(refused)))
