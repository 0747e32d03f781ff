"""The vectorised path of ingest: validate and roll up engagement rows as Arrow/NumPy columns.

Rows that are plainly valid engagement events are checked and rolled up column-wise. Every
other row (post records, anything odd, events whose post gets a record later in the chunk)
is left to the record-by-record path, which gives the exact reason for a rejection; both
paths apply the same rules (RULES.md D38).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import spec
from ..ids import MAX_ID
from ..spec import EVENT_TYPES, METRIC_BY_NAME, NON_INTERACTION_EVENTS, OTHER_EVENT

# Event types in a fixed order; index -> stored metric code (0: counts only as engagements).
TYPE_ORDER = tuple(sorted(EVENT_TYPES))
_CODE_OF_TYPE = np.array(
    [0 if t == OTHER_EVENT else METRIC_BY_NAME[t].code for t in TYPE_ORDER], dtype=np.int16
)
_IS_INTERACTION = np.array([t not in NON_INTERACTION_EVENTS for t in TYPE_ORDER])
_IMPRESSIONS = TYPE_ORDER.index("impressions")
_PLAIN_COUNT = 2**40  # a million of these still sum within 64 bits
_ID = r"^[1-9][0-9]{0,18}$"
_AT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$"


@dataclass(slots=True)
class Events:
    """Plainly valid engagement rows, as columns (rows: their index in the chunk)."""

    rows: np.ndarray
    post_id: np.ndarray  # int64
    kind: np.ndarray  # index into TYPE_ORDER
    at_ms: np.ndarray  # int64, ms since the epoch
    count: np.ndarray  # int64
    promoted: np.ndarray  # bool


def _column(table: pa.Table, name: str, n: int) -> pa.Array:
    if name in table.column_names:
        return table[name].combine_chunks()
    return pa.nulls(n)


def plain_events(table: pa.Table) -> Events:
    """The engagement rows whose fields are all of the expected form, as columns."""
    n = table.num_rows
    kinds = _column(table, "record", n)
    if not pa.types.is_string(kinds.type):  # `true`, 0, [], {}: each gets its reason below
        return _none()
    ok = pc.fill_null(pc.equal(kinds, "engagement"), False)
    ok = np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)

    raw_id = _column(table, "post_id", n)
    if pa.types.is_integer(raw_id.type):
        ids = pc.fill_null(raw_id, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        ok &= ids > 0
    elif pa.types.is_string(raw_id.type) or pa.types.is_large_string(raw_id.type):
        trimmed = pc.utf8_trim_whitespace(raw_id)
        good = pc.fill_null(pc.match_substring_regex(trimmed, _ID), False)
        digits = pc.cast(pc.if_else(good, trimmed, "0"), pa.uint64()).to_numpy(zero_copy_only=False)
        ok &= good.to_numpy(zero_copy_only=False) & (digits <= MAX_ID)
        ids = np.where(digits <= MAX_ID, digits, 0).astype(np.int64)
    else:
        return _none()

    raw_type = _column(table, "type", n)
    if not pa.types.is_string(raw_type.type):
        return _none()
    kind = pc.index_in(raw_type, value_set=pa.array(TYPE_ORDER))
    ok &= kind.is_valid().to_numpy(zero_copy_only=False)
    kind = pc.fill_null(kind, 0).to_numpy(zero_copy_only=False).astype(np.int64)

    at_ms = _instants_ms(_column(table, "at", n))
    if at_ms is None:
        return _none()
    ok &= at_ms[1]
    at_ms = at_ms[0]

    raw_count = _column(table, "count", n)
    if pa.types.is_null(raw_count.type):
        count = np.ones(n, dtype=np.int64)
    elif pa.types.is_integer(raw_count.type):
        count = pc.fill_null(raw_count, 1).to_numpy(zero_copy_only=False).astype(np.int64)
        ok &= (count >= 1) & (count <= _PLAIN_COUNT)  # larger ones: exact sums on the record path
    else:
        return _none()

    raw_promoted = _column(table, "promoted", n)
    if pa.types.is_null(raw_promoted.type):
        promoted = np.zeros(n, dtype=bool)
    elif pa.types.is_boolean(raw_promoted.type):
        promoted = pc.fill_null(raw_promoted, False).to_numpy(zero_copy_only=False)
    else:
        return _none()

    rows = np.flatnonzero(ok)
    return Events(rows, ids[rows], kind[rows], at_ms[rows], count[rows], promoted[rows])


def _instants_ms(raw: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """(ms since the epoch, valid) for a timestamp column or strict ISO 8601 strings."""
    n = len(raw)
    if pa.types.is_timestamp(raw.type):
        if raw.type.tz is None:  # a zone-less timestamp: as the record path, not plainly valid
            return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
        valid = raw.is_valid().to_numpy(zero_copy_only=False)
        ms = pc.cast(raw, pa.timestamp("ms", "UTC")).cast(pa.int64())
        return pc.fill_null(ms, 0).to_numpy(zero_copy_only=False), valid
    if not pa.types.is_string(raw.type):
        return None
    good = pc.fill_null(pc.match_substring_regex(raw, _AT), False)
    try:
        parsed = pc.cast(pc.if_else(good, raw, "1970-01-01T00:00:00Z"), pa.timestamp("ms", "UTC"))
    except pa.ArrowInvalid:  # e.g. 2026-02-30: leave every string to the record path
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    ms = parsed.cast(pa.int64()).to_numpy(zero_copy_only=False)
    return ms, good.to_numpy(zero_copy_only=False)


def _none() -> Events:
    empty = np.zeros(0, dtype=np.int64)
    return Events(empty, empty, empty, empty, empty, np.zeros(0, dtype=bool))


def select(events: Events, keep: np.ndarray) -> Events:
    return Events(*(getattr(events, f)[keep] for f in Events.__slots__))


def roll_up(events: Events) -> pa.Table:
    """(post_id, metric, hour, count) summed per key, `engagements` derived, as an Arrow table."""
    hour = (events.at_ms // 3_600_000).astype(np.int32)
    code = _CODE_OF_TYPE[events.kind]
    own = (code != 0) & ~((events.kind == _IMPRESSIONS) & events.promoted)
    interaction = _IS_INTERACTION[events.kind]
    table = pa.table(
        {
            "post_id": np.concatenate([events.post_id[own], events.post_id[interaction]]),
            "metric": np.concatenate(
                [code[own], np.full(int(interaction.sum()), spec.ENGAGEMENTS.code, dtype=np.int16)]
            ),
            "hour": np.concatenate([hour[own], hour[interaction]]),
            "count": np.concatenate([events.count[own], events.count[interaction]]),
        }
    )
    summed = table.group_by(["post_id", "metric", "hour"]).aggregate([("count", "sum")])
    return summed.rename_columns(["post_id", "metric", "hour", "count"])
