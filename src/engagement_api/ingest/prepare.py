"""Preparing one chunk of records: check every record, roll the events up per (post, metric,
hour) into a batch, and say which records are refused and why. Nothing is written here.

Plainly valid events go column-wise (`columnar`); every other row takes the record path
(`records`), in input order, and both paths must give the same roll-up.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import spec
from ..ids import snowflake_ms
from ..spec import METRIC_BY_NAME, NON_INTERACTION_EVENTS, OTHER_EVENT
from ..store import Batch, Post, Store
from ..store.base import HourlyCounts
from ..times import format_instant
from . import columnar
from .known import KnownPosts
from .readers import Chunk
from .records import EventRecord, PostRecord, Rejected, parse_record


@dataclass(slots=True)
class IngestSummary:
    records: int = 0
    posts: int = 0
    events: int = 0
    rejected: int = 0
    already_ingested: int = 0  # records of chunks that had been applied before

    def add(self, other: IngestSummary) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class Prepared:
    summary: IngestSummary
    batch: Batch | None  # None: the chunk was applied before
    rejections: list[tuple[int, str]]


def prepare(store: Store, chunk: Chunk, key: str, now: float, known: KnownPosts) -> Prepared:
    """Check a chunk's records and roll them up into a batch; nothing is written.

    `known` finds posts in the store and in earlier chunks of the same input, which may not
    be committed yet: they count as "earlier in the input".
    """
    summary = IngestSummary(records=chunk.size)
    if store.batch_applied(key):
        summary.already_ingested = summary.records
        return Prepared(summary, None, [])
    batch = Batch(key, records=chunk.size)
    rejections: list[tuple[int, str]] = []
    hourly: dict[tuple[int, int, int], int] = defaultdict(int)

    # Plainly valid events go column-wise; every other row takes the record path, in order.
    table = chunk.table if chunk.table is not None else _as_table(chunk.records)
    fast = columnar.plain_events(table) if table is not None else None
    record_rows = np.ones(chunk.size, dtype=bool)
    if fast is not None:
        record_rows[fast.rows] = False
    parsed = _parse_rows(chunk, np.flatnonzero(record_rows).tolist(), rejections)
    if fast is not None and len(fast.rows):
        fast, demoted = _defer_to_later_posts(fast, parsed)
        parsed = sorted(parsed + _parse_rows(chunk, demoted, rejections), key=lambda p: p[0])
    posts = known.posts({r.id if isinstance(r, PostRecord) else r.post_id for _, _, r in parsed})

    for _, line, record in parsed:
        try:
            if isinstance(record, PostRecord):
                post = _merge(posts.get(record.id), record)
                posts[post.id] = batch.posts[post.id] = post
                batch.users[post.author_id] = record.handle
                summary.posts += 1
            else:
                _check_event(posts.get(record.post_id), record, now)
                _roll_up(hourly, record)
                summary.events += 1
        except Rejected as error:
            rejections.append((line, str(error)))
    rolled = None
    if fast is not None and len(fast.rows):
        rolled, applied = _apply_plain_events(chunk, fast, batch.posts, known, now, rejections)
        summary.events += applied
    batch.hourly = HourlyCounts.combine(rolled, hourly)
    summary.rejected = len(rejections)
    return Prepared(summary, batch, rejections)


def _as_table(records: list[tuple[int, dict | str]]) -> pa.Table | None:
    """The chunk's records as columns, when every one is an object of uniformly typed fields.

    Every field any record has is a column (pyarrow's `from_pylist` would take the first
    record's fields only), a record without `count` counting 1 as on the record path. A
    `"count": null` the record path refuses: it becomes 0 here, which is not plainly valid,
    so that row takes the record path and gets its reason."""
    rows = [r for _, r in records]
    if not rows or not all(type(r) is dict for r in rows):
        return None
    fields = set().union(*rows)
    try:
        if all(len(r) == len(fields) for r in rows):  # every record has every field
            table = pa.Table.from_pylist(rows)
        else:
            table = pa.Table.from_pydict(
                {
                    name: [r.get(name, 1) if name == "count" else r.get(name) for r in rows]
                    for name in fields
                }
            )
        if "count" in fields and pa.types.is_integer(table["count"].type):
            table = table.set_column(
                table.column_names.index("count"), "count", pc.fill_null(table["count"], 0)
            )
        return table
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None


def _parse_rows(
    chunk: Chunk, rows: list[int], rejections: list[tuple[int, str]]
) -> list[tuple[int, int, PostRecord | EventRecord]]:
    """(row, line, record) for the rows that parse; the others go to `rejections`."""
    parsed = []
    for row, (line, raw) in zip(rows, chunk.records_at(rows), strict=True):
        if isinstance(raw, str):
            rejections.append((line, raw))
            continue
        try:
            parsed.append((row, line, parse_record(raw)))
        except Rejected as error:
            rejections.append((line, str(error)))
    return parsed


def _defer_to_later_posts(
    fast: columnar.Events, parsed: list[tuple[int, int, PostRecord | EventRecord]]
) -> tuple[columnar.Events, list[int]]:
    """Events whose post has a record later in the chunk must be checked in order."""
    last_record: dict[int, int] = {}
    for row, _, record in parsed:
        if isinstance(record, PostRecord):
            last_record[record.id] = row
    if not last_record:
        return fast, []
    ids = np.fromiter(last_record, dtype=np.int64, count=len(last_record))
    rows = np.fromiter(last_record.values(), dtype=np.int64, count=len(last_record))
    order = np.argsort(ids)
    ids, rows = ids[order], rows[order]
    at = np.minimum(np.searchsorted(ids, fast.post_id), len(ids) - 1)
    later = (ids[at] == fast.post_id) & (rows[at] > fast.rows)
    return columnar.select(fast, ~later), fast.rows[later].tolist()


def _apply_plain_events(
    chunk: Chunk,
    fast: columnar.Events,
    chunk_posts: dict[int, Post],
    known: KnownPosts,
    now: float,
    rejections: list[tuple[int, str]],
) -> tuple[pa.Table, int]:
    """Check the column-wise events against their posts and roll them up; (rolled, applied).

    A post with a record in this chunk is taken in the state the chunk leaves it: events
    before its last record went to the record path (`_defer_to_later_posts`).
    """
    unique, inverse = np.unique(fast.post_id, return_inverse=True)
    in_chunk = np.zeros(len(unique), dtype=bool)
    created = np.zeros(len(unique), dtype=np.int64)
    if chunk_posts and len(unique):
        ids = np.fromiter(chunk_posts, dtype=np.int64, count=len(chunk_posts))
        ms = np.fromiter((p.created_ms for p in chunk_posts.values()), np.int64, len(ids))
        at = np.minimum(np.searchsorted(unique, ids), len(unique) - 1)
        named = unique[at] == ids
        in_chunk[at[named]] = True
        created[at[named]] = ms[named]
    known_before, created_before = known.created_ms(unique[~in_chunk])
    created[~in_chunk] = created_before
    exists = in_chunk.copy()
    exists[~in_chunk] = known_before
    good = exists[inverse] & (fast.at_ms <= now * 1000) & (fast.at_ms >= created[inverse])
    for index in np.flatnonzero(~good).tolist():  # rare: find the exact reason
        line, raw = chunk.records_at([int(fast.rows[index])])[0]
        record = parse_record(raw)
        post = chunk_posts.get(record.post_id) or known.posts([record.post_id]).get(record.post_id)
        try:
            _check_event(post, record, now)
        except Rejected as error:
            rejections.append((line, str(error)))
        else:  # the two paths must agree, or an event would be lost without a word
            raise AssertionError(
                f"line {line}: the column path refused an event the record path accepts"
            )
    return columnar.roll_up(columnar.select(fast, good)), int(good.sum())


def _merge(stored: Post | None, record: PostRecord) -> Post:
    """A later post record updates the fields it gives and keeps the others."""
    if stored is None:
        stored = Post(record.id, record.author_id, snowflake_ms(record.id))
    video_id = stored.video_id if record.video_id is None else (record.video_id or None)
    return Post(
        record.id,
        record.author_id,
        stored.created_ms if record.created_ms is None else record.created_ms,
        stored.protected if record.protected is None else record.protected,
        stored.deleted if record.deleted is None else record.deleted,
        video_id,
    )


def _check_event(post: Post | None, event: EventRecord, now: float) -> None:
    if post is None:
        raise Rejected(f"post {event.post_id} is neither stored nor earlier in the input")
    if event.at > now:
        raise Rejected(f"at {format_instant(event.at)} is later than now ({format_instant(now)})")
    if event.at * 1000 < post.created_ms:
        raise Rejected(
            f"at {format_instant(event.at)} is before post {post.id} was created "
            f"({format_instant(post.created_ms / 1000)})"
        )


def _roll_up(hourly: dict[tuple[int, int, int], int], event: EventRecord) -> None:
    hour = int(event.at // spec.HOUR)
    kind = event.type
    if kind != OTHER_EVENT and not (kind == "impressions" and event.promoted):
        # Impressions are organic only (003); every other metric counts promoted events too.
        hourly[event.post_id, METRIC_BY_NAME[kind].code, hour] += event.count
    if kind not in NON_INTERACTION_EVENTS:
        hourly[event.post_id, spec.ENGAGEMENTS.code, hour] += event.count
