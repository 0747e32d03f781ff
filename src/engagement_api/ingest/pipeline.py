"""Applying input: files and record lists chunk by chunk, one thread preparing the next chunk
while the other commits the last; a live batch whole or not at all.

Each chunk of the input becomes one batch, applied in one transaction under a key that chains
the content of every chunk so far. Ingesting the same input again finds every key applied and
counts nothing twice; an ingest that was interrupted resumes after the last applied chunk.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
from collections.abc import Callable

from ..clock import Clock
from ..store import Store, second_connection
from .known import KnownPosts
from .prepare import IngestSummary, Prepared, prepare
from .readers import Chunk, NdjsonLines, read_chunks

OnReject = Callable[[int, str], None]


def ingest_source(
    store: Store,
    source: str,
    clock: Clock,
    on_reject: OnReject | None = None,
    on_progress: Callable[[int], None] | None = None,
    chunk_records: int | None = None,
) -> IngestSummary:
    """Ingest one file (or `-` for stdin); bad records are reported and skipped.

    Chunks are read, checked and rolled up on a second thread, with a store connection of
    its own, while this one commits the chunk before: the two overlap on two cores (Arrow,
    NumPy and SQLite release the GIL for their heavy work).
    """
    summary = IngestSummary()
    reader = second_connection(store)
    prepared: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def prepare_all() -> None:
        chain = hashlib.sha256(b"engagement-api ingest v1")
        known = KnownPosts(reader)  # includes posts of chunks not committed yet
        try:
            for chunk in read_chunks(source, chunk_records):
                if stop.is_set():
                    return
                for piece in chunk.content:
                    chain.update(piece)
                chunk.content = []
                key = "ingest:" + chain.copy().hexdigest()
                ready = prepare(reader, chunk, key, clock.now(), known)
                if ready.batch is not None:
                    known.add_chunk(ready.batch.posts)
                prepared.put((ready, chunk.position))
            prepared.put(None)
        except BaseException as error:  # handed to the committing thread
            prepared.put(error)

    worker = threading.Thread(target=prepare_all, name="ingest-prepare", daemon=True)
    worker.start()
    try:
        while (item := prepared.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            ready, position = item
            summary.add(_commit(store, ready, on_reject))
            if on_progress:
                on_progress(position)
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                prepared.get(timeout=0.05)
        if reader is not store:
            reader.close()
    return summary


def ingest_records(
    store: Store, records: list[dict], key: str, now: float, on_reject: OnReject | None = None
) -> IngestSummary:
    """Ingest records held in memory as one batch under `key` (the demo and tests use this)."""
    chunk = Chunk(records=list(enumerate(records, start=1)))
    return _apply_chunk(store, chunk, key, now, on_reject)


class BatchRejected(ValueError):
    """A whole-or-nothing batch had bad records: nothing was applied. `rejections` lists the
    first ones by line (at most MAX_LISTED), `count` says how many were found, and `unread`
    how many lines were not even read once MAX_LISTED unreadable ones had been."""

    def __init__(self, rejections: list[tuple[int, str]], count: int, unread: int = 0) -> None:
        super().__init__(f"{count} records rejected")
        self.rejections = rejections
        self.count = count
        self.unread = unread


MAX_LISTED = 100  # rejected records named when a whole batch is refused


def ingest_batch(store: Store, lines: NdjsonLines, key: str, now: float) -> IngestSummary:
    """Apply numbered records as one batch, whole or not at all (live ingest).

    Raises BatchRejected, applying nothing, when any record is bad; a key already applied
    counts nothing (`already_ingested`). After MAX_LISTED unreadable lines the batch is
    refused whatever follows, so the rest is counted, not read: junk costs about its size.
    """
    if store.batch_applied(key):  # a replay: whatever the body, the answer of the first time
        seen = sum(1 for _ in lines)
        return IngestSummary(records=seen, already_ingested=seen)
    records: list[tuple[int, dict | str]] = []
    unreadable: list[tuple[int, str]] = []
    for line, record in lines:
        if isinstance(record, str):
            unreadable.append((line, record))
            if len(unreadable) == MAX_LISTED:
                raise BatchRejected(unreadable, MAX_LISTED, lines.lines_left())
        else:
            records.append((line, record))
    if not records and not unreadable:
        raise BatchRejected([], 0)
    ready = prepare(store, Chunk(records=records), key, now, KnownPosts(store))
    if ready.rejections or unreadable:
        rejections = sorted(ready.rejections + unreadable)
        raise BatchRejected(rejections[:MAX_LISTED], len(ready.rejections) + len(unreadable))
    return _commit(store, ready, None)


def _apply_chunk(
    store: Store, chunk: Chunk, key: str, now: float, on_reject: OnReject | None
) -> IngestSummary:
    return _commit(store, prepare(store, chunk, key, now, KnownPosts(store)), on_reject)


def _commit(store: Store, ready: Prepared, on_reject: OnReject | None) -> IngestSummary:
    """Apply a prepared batch (once per key) and report its rejected records."""
    summary = ready.summary
    if ready.batch is None:
        return summary
    if not store.apply_batch(ready.batch):  # another ingest applied the same content meanwhile
        return IngestSummary(records=summary.records, already_ingested=summary.records)
    for line, reason in sorted(ready.rejections):
        if on_reject:
            on_reject(line, reason)
    return summary
