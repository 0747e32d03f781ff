"""@handle usage: the unique handles each app queries per billing month (FAQ, 004).

"The internal Twitter system will keep track of the number of Authenticated users owning
Tweets that are queried with the Engagement API ... The system will not block overages."
Every user-context request answered 200 counts the authenticating user's @handle for the app
in the UTC calendar month of the data clock. The figures live in the store (durable, exact
across hosts: `Store.record_handle` hands out each app's count once); a worker remembers what
it has recorded, so a handle costs one write per worker and month, off the event loop.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

from .. import spec
from ..auth import Principal
from ..errors import ApiError
from ..store import App
from .outcome import Answer, refusal

if TYPE_CHECKING:
    from .pipeline import Services

log = logging.getLogger("engagement_api.usage")
MAX_REMEMBERED = 100_000  # (app, month, user) this worker has recorded; then start again


def billing_month(now: float) -> str:
    """The UTC calendar month of an instant, `YYYY-MM`."""
    return time.strftime("%Y-%m", time.gmtime(now))


class HandleUsage:
    def __init__(self) -> None:
        self._recorded: set[tuple[int, str, int]] = set()

    def counted(self, answer: Answer, principal: Principal, now: float, services: Services):
        """`answer`, with the handle recorded first when this worker has not yet done so."""
        if principal.user_id is None:
            return answer
        key = (principal.app.id, billing_month(now), principal.user_id)
        if key in self._recorded:
            return answer

        def finish() -> Answer:
            try:
                self.record(services, principal.app, key, int(services.wall_clock.now()))
            except Exception:
                log.exception("cannot record the @handle usage of app %s", principal.app.id)
                error = ApiError(503, spec.Messages.USAGE_UNAVAILABLE)
                return refusal(error, answer.trace, answer.headers)
            return answer

        answer.finish = finish
        return answer

    def record(self, services: Services, app: App, key: tuple[int, str, int], now: int) -> None:
        app_id, month, user_id = key
        count = services.writer.record_handle(app_id, month, user_id, now)
        if len(self._recorded) >= MAX_REMEMBERED:
            self._recorded.clear()
        self._recorded.add(key)
        if count is not None and app.handle_limit is not None and count == app.handle_limit + 1:
            log.warning(
                "app %s (%s) passed its limit of %s unique @handles in %s",
                app.id,
                app.name,
                app.handle_limit,
                month,
            )


def usage_document(app: App, month: str, handles: list[str]) -> dict:
    """One app's usage in one month, as `usage --json` and the usage endpoint answer it."""
    limit = app.handle_limit
    return {
        "app_id": str(app.id),
        "app_name": app.name,
        "month": month,
        "handle_limit": limit,
        "unique_handles": len(handles),
        "overage": max(len(handles) - limit, 0) if limit is not None else 0,
        "handles": sorted(handles),
    }


def parse_month(text: str) -> str:
    """A `YYYY-MM` month, or a 400."""
    if not _MONTH.fullmatch(text):
        raise ApiError(400, f"month must be YYYY-MM: {text[:40]}")
    return text


_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
