"""Groupings as the caller gives them, checked against the endpoint before any request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .api import (
    ENGAGEMENT_DAY,
    ENGAGEMENT_HOUR,
    ENGAGEMENT_TYPE,
    MAX_GROUPINGS,
    RESERVED_KEYS,
    TWEET_ID,
    Endpoint,
)

DEFAULT_NAME = "by_post"
DEFAULT_GROUP_BY = (TWEET_ID, ENGAGEMENT_TYPE)
# The column of a row that each level of a grouping fills.
COLUMN_OF = {
    TWEET_ID: "tweet_id",
    ENGAGEMENT_TYPE: "metric",
    ENGAGEMENT_DAY: "day",
    ENGAGEMENT_HOUR: "hour",
}
COLUMNS = ("tweet_id", "metric", "day", "hour", "count")

GroupingsArg = Mapping[str, Sequence[str] | Mapping[str, Sequence[str]]] | Sequence[str] | None


def normalize(groupings: GroupingsArg, endpoint: Endpoint) -> dict[str, tuple[str, ...]]:
    """name -> group_by values (lowercase). Accepts None (one grouping by post and metric), a
    list of values (one grouping), or the API's own `{"name": {"group_by": [...]}}` (plain
    `{"name": [...]}` too)."""
    if groupings is None:
        given: dict = {DEFAULT_NAME: DEFAULT_GROUP_BY}
    elif isinstance(groupings, Mapping):
        given = dict(groupings)
    elif isinstance(groupings, str):
        raise TypeError("groupings: give a list of group_by values or a mapping, not a string")
    else:
        given = {DEFAULT_NAME: tuple(groupings)}
    if not given or len(given) > MAX_GROUPINGS:
        raise ValueError(f"give 1 to {MAX_GROUPINGS} groupings, not {len(given)}")
    result: dict[str, tuple[str, ...]] = {}
    for name, spec in given.items():
        if not isinstance(name, str) or not name or name in RESERVED_KEYS:
            raise ValueError(f"{name!r} cannot name a grouping")
        values = spec.get("group_by") if isinstance(spec, Mapping) else spec
        if isinstance(values, str) or not values:
            raise ValueError(f"grouping {name!r}: group_by must be a non-empty list")
        levels = tuple(str(v).strip().lower() for v in values)
        unknown = [v for v in levels if v not in endpoint.group_by]
        if unknown:
            raise ValueError(
                f"grouping {name!r}: {', '.join(unknown)} cannot group /{endpoint.name} answers "
                f"(offered: {', '.join(endpoint.group_by)})"
            )
        if len(set(levels)) != len(levels):
            raise ValueError(f"grouping {name!r}: a group_by value repeats")
        if (
            ENGAGEMENT_DAY in levels
            and ENGAGEMENT_HOUR in levels
            and (levels.index(ENGAGEMENT_DAY) > levels.index(ENGAGEMENT_HOUR))
        ):
            raise ValueError(f"grouping {name!r}: engagement.day must come before engagement.hour")
        result[name] = levels
    return result


def wire(groupings: dict[str, tuple[str, ...]]) -> dict[str, dict[str, list[str]]]:
    return {name: {"group_by": list(levels)} for name, levels in groupings.items()}


def columns(levels: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of a grouping's rows, in the fixed order of COLUMNS."""
    present = {COLUMN_OF[level] for level in levels} | {"count"}
    return tuple(c for c in COLUMNS if c in present)


def check_types(types: Sequence[str], endpoint: Endpoint) -> tuple[str, ...]:
    if isinstance(types, str):
        types = [t for t in types.split(",") if t.strip()]
    chosen = tuple(dict.fromkeys(t.strip() for t in types))
    if not chosen:
        raise ValueError("give at least one engagement type")
    refused = [t for t in chosen if t not in endpoint.metrics]
    if refused:
        raise ValueError(
            f"/{endpoint.name} does not offer {', '.join(refused)} "
            f"(it offers: {', '.join(endpoint.metrics)})"
        )
    return chosen
