"""What a fault rule answers: the status it names, with the body the documents give it, and
for a 429 the allowance headers of the app the request names (unverified: a fault is acted
out before any work, so nothing is counted)."""

from __future__ import annotations

from ..auth import peek_app
from ..contract import Admission, minute_of
from ..control import FaultRule
from ..engagement import Answer, Services, error_body
from ..errors import ApiError
from ..spec import Messages


def answer(rule: FaultRule, services: Services, authorization: str) -> Answer:
    if rule.status != 429:
        return Answer(
            rule.status, error_body(ApiError(rule.status, Messages.SERVER_ERRORS[rule.status]))
        )
    services.memory.refresh()
    app = peek_app(services.memory.accounts, authorization)
    _, reset = minute_of(services.wall_clock.now())
    limit = app.rate_limit if app is not None else 0
    headers = {**Admission(False, limit, 0, reset).headers(), "retry-after": str(reset)}
    error = ApiError(429, Messages.RATE_LIMITED.format(limit=limit))
    return Answer(429, error_body(error), headers)
