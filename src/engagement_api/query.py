"""Request JSON -> a typed query, or a 400 in the documented words (RULES.md sections 3, 4, 6)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import orjson

from . import spec
from .errors import bad_request
from .ids import MAX_ID, parse_id
from .spec import Endpoint, Metric
from .times import ceil_hour, floor_hour, parse_instant


@dataclass(frozen=True, slots=True)
class Grouping:
    name: str
    levels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Window:
    start: int  # first hour counted (epoch seconds)
    end: int  # first hour not counted

    @property
    def hours(self) -> int:
        return (self.end - self.start) // spec.HOUR


@dataclass
class Query:
    endpoint: Endpoint
    keys: tuple[str, ...]  # the post ids, canonical decimal strings, each once, in request order
    metrics: tuple[Metric, ...]  # each once, in request order
    groupings: tuple[Grouping, ...]
    window: Window | None  # None on /totals

    @cached_property
    def ids(self) -> tuple[int, ...]:
        return tuple(map(int, self.keys))

    @cached_property
    def metrics_key(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)


def parse_body(body: bytes) -> dict:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise bad_request("Request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise bad_request("Request body must be a JSON object")
    return document


def parse_query(endpoint: Endpoint, body: bytes, now: float) -> Query:
    document = parse_body(body)
    ids = _tweet_ids(endpoint, document.get("tweet_ids"))
    raw_metrics, raw_groupings = document.get("engagement_types"), document.get("groupings")
    metrics = _remembered(_metrics, endpoint, raw_metrics, _metrics_key(raw_metrics))
    groupings = _remembered(_groupings, endpoint, raw_groupings, _groupings_key(raw_groupings))
    window = None
    if endpoint.takes_window:
        window = historical_window(
            document.get("start"), document.get("end"), now, "start" in document, "end" in document
        )
    elif endpoint.timeseries:
        window = window_28hr(now)
    return Query(endpoint, ids, metrics, groupings, window)


def _tweet_ids(endpoint: Endpoint, raw: object) -> tuple[str, ...]:
    if raw is None:
        raise bad_request("tweet_ids is required")
    if not isinstance(raw, list):
        raise bad_request("tweet_ids must be an array of Tweet ID strings")
    if not raw:
        raise bad_request("tweet_ids must not be empty")
    if len(raw) > endpoint.max_ids:
        raise bad_request(
            f"Too many Tweet IDs: {len(raw)} given, at most {endpoint.max_ids} per request"
        )
    try:
        keys = dict.fromkeys(raw)
    except TypeError:  # an unhashable entry (a list, an object): not an id
        keys = None
    if keys is not None and (_CANONICAL_SEEN.issuperset(keys) or _canonical(raw)):
        return tuple(keys)
    keys = {}
    for value in raw:
        post_id = parse_id(value)
        if post_id is None:
            raise bad_request(f"Invalid Tweet ID: {_shown(value)}")
        keys[str(post_id)] = None
    return tuple(keys)


def _shown(value: object) -> str:
    """A refused id as the client wrote it, as near as JSON parsing lets us: a whole number
    too large for 64 bits arrives as a float, and is shown with all its digits."""
    if type(value) is float and value.is_integer() and abs(value) < 1e30:
        return str(int(value))
    return orjson.dumps(value).decode()


# Canonical ids joined by commas, checked in one pass. Ids starting with 9 (among them the
# only ones that may reach 2^63) are left to the careful path.
_CANONICAL_LIST = re.compile(r"(?:[1-8][0-9]{0,18},)*[1-8][0-9]{0,18}")
assert len(str(MAX_ID)) == 19 and str(MAX_ID)[0] == "9"
# Id strings found canonical before (only strings are ever added): most requests ask for
# posts asked for before, and a set lookup per id is cheaper than reading them again.
# Bounded; forgotten whole when full.
_CANONICAL_SEEN: set[str] = set()
MAX_SEEN = 500_000


def _canonical(raw: list) -> bool:
    """Every entry a string already in canonical form (so it is its own key)."""
    if set(map(type, raw)) != {str}:
        return False
    joined = ",".join(raw)
    if joined.count(",") != len(raw) - 1 or not _CANONICAL_LIST.fullmatch(joined):
        return False  # an entry holds a comma, or one is not canonical
    if len(_CANONICAL_SEEN) + len(raw) > MAX_SEEN:
        _CANONICAL_SEEN.clear()
    _CANONICAL_SEEN.update(raw)
    return True


# Metric lists and groupings repeat from request to request ("the Engagement Types and
# Groupings will remain relatively constant", 001): what was valid once is remembered.
_VALID: dict[tuple, tuple] = {}
MAX_VALID = 4096


def _remembered(parse, endpoint: Endpoint, raw: object, key: tuple | None) -> tuple:
    if key is None:
        return parse(endpoint, raw)
    key = (parse.__name__, endpoint.name, key)
    found = _VALID.get(key)
    if found is None:
        found = parse(endpoint, raw)  # raises for anything invalid: nothing remembered
        if len(_VALID) >= MAX_VALID:
            _VALID.clear()
        _VALID[key] = found
    return found


def _metrics_key(raw: object) -> tuple | None:
    return tuple(raw) if type(raw) is list and set(map(type, raw)) == {str} else None


def _groupings_key(raw: object) -> tuple | None:
    if type(raw) is not dict:
        return None
    key = []
    for name, value in raw.items():
        group_by = value.get("group_by") if type(value) is dict else None
        if type(group_by) is not list or set(map(type, group_by)) != {str}:
            return None
        key.append((name, tuple(group_by)))
    return tuple(key)


def _metrics(endpoint: Endpoint, raw: object) -> tuple[Metric, ...]:
    if raw is None:
        raise bad_request("engagement_types is required")
    if not isinstance(raw, list):
        raise bad_request("engagement_types must be an array of strings")
    if not raw:
        raise bad_request("engagement_types must not be empty")
    chosen: dict[str, None] = {}
    for name in raw:
        if not isinstance(name, str):
            raise bad_request("engagement_types must be an array of strings")
        metric = spec.METRIC_BY_NAME.get(name)
        if metric is None:
            raise bad_request(f"Unsupported engagement type: {name}")
        if name not in endpoint.metrics:
            raise bad_request(f"Engagement type {name} is not available on {endpoint.label}")
        chosen[name] = None
    return tuple(spec.METRIC_BY_NAME[n] for n in chosen)


def _groupings(endpoint: Endpoint, raw: object) -> tuple[Grouping, ...]:
    if raw is None:
        raise bad_request("groupings is required")
    if not isinstance(raw, dict):
        raise bad_request("groupings must be an object of named groupings")
    if not raw:
        raise bad_request("groupings must name at least one grouping")
    if len(raw) > spec.MAX_GROUPINGS:
        raise bad_request(f"Too many groupings: at most {spec.MAX_GROUPINGS}")
    groupings = tuple(_grouping(endpoint, name, value) for name, value in raw.items())
    if sum(len(g.levels) == 4 for g in groupings) > 1:
        raise bad_request("Only one grouping per request may have 4 group_by values")
    return groupings


def _grouping(endpoint: Endpoint, name: str, value: object) -> Grouping:
    if not name:
        raise bad_request("Grouping names must not be empty")
    if name in spec.RESERVED_KEYS:
        raise bad_request(f"Grouping name {name} is reserved")
    group_by = value.get("group_by") if isinstance(value, dict) else None
    if not isinstance(group_by, list) or not group_by:
        raise bad_request(f"Grouping {name} must have a non-empty group_by array")
    levels: list[str] = []
    for item in group_by:
        if not isinstance(item, str):
            raise bad_request(f"Grouping {name}: group_by values must be strings")
        level = item.strip().lower()
        if level not in endpoint.group_by:
            raise bad_request(f"Invalid group_by for {endpoint.label}: {item}")
        if level in levels:
            raise bad_request(f"Grouping {name}: group_by repeats {level}")
        levels.append(level)
    if len(levels) == 4 and tuple(levels) not in spec.FOUR_VALUE_ORDERS:
        orders = " or ".join(str(list(o)).replace("'", '"') for o in spec.FOUR_VALUE_ORDERS)
        raise bad_request(f"Grouping {name}: 4 group_by values must be in the order {orders}")
    if (
        spec.ENGAGEMENT_DAY in levels
        and spec.ENGAGEMENT_HOUR in levels
        and levels.index(spec.ENGAGEMENT_DAY) > levels.index(spec.ENGAGEMENT_HOUR)
    ):
        raise bad_request(f"Grouping {name}: engagement.day must come before engagement.hour")
    return Grouping(name, tuple(levels))


def window_28hr(now: float) -> Window:
    """The current (partial) hour and the 28 whole hours before it (RULES.md D20)."""
    current = floor_hour(now)
    return Window(current - spec.WINDOW_28HR_HOURS * spec.HOUR, current + spec.HOUR)


def historical_window(
    raw_start: object,
    raw_end: object,
    now: float,
    document_has_start: bool = False,
    document_has_end: bool = False,
) -> Window:
    """The /historical window: rounding, defaults and limits of RULES.md section 6."""
    start = _instant("start", raw_start, document_has_start)
    end = _instant("end", raw_end, document_has_end)
    latest_end = floor_hour(now) + spec.HOUR
    if end is not None and end > now:
        raise bad_request("end must not be in the future")
    if start is None and end is None:
        window_end = latest_end
        window_start = window_end - spec.HISTORICAL_MAX
    elif end is None:
        window_start = floor_hour(start)
        window_end = min(window_start + spec.HISTORICAL_MAX, latest_end)
    elif start is None:
        window_end = ceil_hour(end)
        window_start = max(window_end - spec.HISTORICAL_MAX, spec.HISTORICAL_MIN_START)
    else:
        window_start, window_end = floor_hour(start), ceil_hour(end)
    if window_start < spec.HISTORICAL_MIN_START:
        raise bad_request("start must not be before 2014-09-01T00:00:00Z")
    if window_start >= window_end:
        raise bad_request("start must be before end")
    if window_end - window_start > spec.HISTORICAL_MAX:
        raise bad_request("The window from start to end must not be longer than 4 weeks")
    return Window(window_start, window_end)


def _instant(field: str, raw: object, given: bool) -> float | None:
    if raw is None and not given:
        return None
    if not isinstance(raw, str):
        raise bad_request(f"{field} must be a date string")
    try:
        return parse_instant(raw)
    except ValueError:
        raise bad_request(
            f"Invalid {field}: {raw} (expected YYYY-MM-DD or an ISO 8601 date-time with a zone)"
        ) from None
