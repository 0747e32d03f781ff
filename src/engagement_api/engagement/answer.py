"""A typed query for a principal -> the checks that need the posts, then the answer document
(RULES.md sections 7 and 8): ownership (403), protected posts (400), the partial-result
lists, and each grouping.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from .. import spec
from ..auth import Principal
from ..errors import ApiError
from ..query import Query
from ..shape import shape
from ..spec import Messages
from ..store import Post, Reads
from ..times import format_instant
from .served import age_cutoff, served_table


def available_posts(reads: Reads, ids: Sequence[int], now: float) -> tuple[list[Post], list[int]]:
    """(posts that exist at `now` and are not deleted, in request order; the other ids)."""
    found = reads.get_posts(ids)
    now_ms = now * 1000
    available, unavailable = [], []
    for post_id in ids:
        post = found.get(post_id)
        if post is None or post.deleted or post.created_ms > now_ms:  # not yet posted at now
            unavailable.append(post_id)
        else:
            available.append(post)
    return available, unavailable


def check_posts(principal: Principal, available: Sequence[Post]) -> None:
    """Ownership before protection (RULES.md section 10)."""
    if principal.user_id is not None:
        foreign = [p.id for p in available if p.author_id != principal.user_id]
        if foreign:
            raise ApiError(403, Messages.FORBIDDEN_TWEETS.format(ids=", ".join(map(str, foreign))))
    if any(p.protected for p in available):
        raise ApiError(400, Messages.PROTECTED)


def answer(reads: Reads, query: Query, principal: Principal, now: float) -> bytes:
    """The JSON answer of any valid query whose app-only rights were checked."""
    available, unavailable = available_posts(reads, query.ids, now)
    check_posts(principal, available)

    body: dict = {}
    if query.window:
        body[spec.START_KEY] = format_instant(query.window.start)
        body[spec.END_KEY] = format_instant(query.window.end)
    errors: list[str] = []
    if unavailable:
        body[spec.UNAVAILABLE_KEY] = [str(i) for i in unavailable]
        errors.append(Messages.UNAVAILABLE.format(n=len(unavailable)))
    unsupported: dict[str, set[int]] = {}  # metric name -> post ids too old for it
    for metric in query.metrics:
        cutoff = age_cutoff(metric, query.endpoint, now)
        if cutoff is not None:
            unsupported[metric.name] = {p.id for p in available if p.created_ms < cutoff * 1000}
    for key, names, message, days in spec.AGE_LISTS:
        old = set().union(*(unsupported.get(n, set()) for n in names))
        if old:
            body[key] = [str(p.id) for p in available if p.id in old]
            errors.append(message.format(cutoff=format_instant(now - days * spec.DAY)))
    if errors:
        body[spec.ERRORS_KEY] = errors

    table = served_table(reads, query, available, unsupported, now)
    for grouping in query.groupings:
        body[grouping.name] = shape(grouping.levels, table)
    return orjson.dumps(body)
