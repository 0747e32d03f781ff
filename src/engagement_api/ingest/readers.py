"""Input files -> chunks of raw records, with line numbers, in NDJSON, CSV or Parquet.

Each chunk carries the bytes that identify its content, so a replayed input is recognised
chunk by chunk (see `ingest.ingest_source`).
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import orjson
import pyarrow as pa

CHUNK_RECORDS = 100_000  # records per chunk of NDJSON or CSV
PARQUET_CHUNK_ROWS = 1_000_000  # columnar: larger chunks, still well under 1 GiB
BOOLEAN_FIELDS = ("protected", "deleted", "promoted")
_TRUE = {"true", "1", "yes", "t"}
_FALSE = {"false", "0", "no", "f"}


@dataclass(slots=True)
class Chunk:
    """Records as (line, record | reason it is unreadable), or an Arrow table of rows."""

    records: list[tuple[int, dict | str]] = field(default_factory=list)
    table: pa.Table | None = None  # Parquet: row i is at line `first_line + i`
    first_line: int = 1
    content: list[bytes] = field(default_factory=list)  # what identifies this chunk's input
    position: int = 0  # bytes of the input consumed so far, for progress bars

    @property
    def size(self) -> int:
        return self.table.num_rows if self.table is not None else len(self.records)

    def records_at(self, rows: list[int]) -> list[tuple[int, dict | str]]:
        if self.table is None:
            return [self.records[r] for r in rows]
        values = self.table.take(rows).to_pylist() if rows else []
        return [(self.first_line + r, clean_row(v)) for r, v in zip(rows, values, strict=True)]


def detect_format(name: str) -> str:
    lowered = name.lower().removesuffix(".gz")
    if lowered.endswith((".parquet", ".pq")):
        return "parquet"
    if lowered.endswith((".csv", ".tsv")):
        return "csv"
    return "ndjson"  # .ndjson, .jsonl, .json and stdin


def read_chunks(source: str, chunk_records: int | None = None) -> Iterator[Chunk]:
    """Chunks of at most `chunk_records` records (default: by format, see above)."""
    kind = detect_format(source)
    if kind == "parquet":
        yield from _parquet_chunks(source, chunk_records or PARQUET_CHUNK_ROWS)
        return
    chunk_records = chunk_records or CHUNK_RECORDS
    if source == "-":
        yield from _text_chunks(kind, sys.stdin.buffer, chunk_records)
        return
    with open(source, "rb") as raw:
        yield from _text_chunks(kind, raw, chunk_records, gzipped=source.endswith(".gz"))


def _text_chunks(kind: str, raw: BinaryIO, size: int, gzipped: bool = False) -> Iterator[Chunk]:
    reader = _csv_chunks if kind == "csv" else _ndjson_chunks
    if gzipped:
        with gzip.open(raw) as stream:
            yield from reader(stream, raw, size)
    else:
        yield from reader(raw, raw, size)


def _position(raw: BinaryIO) -> int:
    try:
        return raw.tell()
    except (OSError, ValueError):
        return 0


def parse_line(line: bytes) -> dict | str:
    """One NDJSON line: the record, or the reason it is not one."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return f"not valid JSON ({error.msg})"
    return value if isinstance(value, dict) else "not a JSON object"


class NdjsonLines:
    """The non-blank lines of an NDJSON document as (line number, record | reason), read one
    at a time from the bytes as received (no copy), so a batch of millions of lines never
    holds them all at once, and no single step holds the interpreter for long."""

    def __init__(self, data: bytes | bytearray) -> None:
        self._data = data
        self._view = memoryview(data)
        self._position = 0

    def __iter__(self) -> Iterator[tuple[int, dict | str]]:
        data, view = self._data, self._view
        for number in itertools.count(1):
            if self._position >= len(data):
                return
            end = data.find(b"\n", self._position)
            end = len(data) if end < 0 else end + 1
            line = view[self._position : end]
            self._position = end
            if bytes(line).strip():
                yield number, parse_line(line)

    def lines_left(self) -> int:
        """Lines not read yet (blank or not), counted without reading them, a megabyte at a
        time so other threads (the event loop) keep running."""
        data, position, count = self._data, self._position, 0
        while position < len(data):
            stop = min(position + _MIB, len(data))
            count += data.count(b"\n", position, stop)
            position = stop
            time.sleep(0)  # let the event loop's thread take the interpreter
        return count + (self._position < len(data) and not data.endswith(b"\n"))


_MIB = 1024 * 1024


def _ndjson_chunks(stream: BinaryIO, raw: BinaryIO, size: int) -> Iterator[Chunk]:
    chunk = Chunk()
    for line_no, line in enumerate(stream, start=1):
        chunk.content.append(line)
        if not line.strip():
            continue
        chunk.records.append((line_no, parse_line(line)))
        if len(chunk.records) >= size:
            chunk.position = _position(raw)
            yield chunk
            chunk = Chunk()
    chunk.position = _position(raw)
    if chunk.content:
        yield chunk


def _csv_value(name: str, text: str):
    if name in BOOLEAN_FIELDS:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    elif name == "count" and text.strip().isdigit():
        return int(text)
    return text


def _csv_chunks(stream: BinaryIO, raw: BinaryIO, size: int) -> Iterator[Chunk]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    chunk = Chunk()
    try:
        for row in reader:
            chunk.content.append(orjson.dumps(row))
            if None in row:
                chunk.records.append((reader.line_num, "more cells than header columns"))
            else:
                record = {k: _csv_value(k, v) for k, v in row.items() if k and v not in ("", None)}
                chunk.records.append((reader.line_num, record))
            if len(chunk.records) >= size:
                chunk.position = _position(raw)
                yield chunk
                chunk = Chunk()
    except (csv.Error, UnicodeDecodeError) as error:
        chunk.records.append((reader.line_num + 1, f"unreadable CSV ({error})"))
    chunk.position = _position(raw)
    if chunk.content or chunk.records:
        yield chunk


def clean_row(row: dict) -> dict:
    """A table row as a record: absent cells dropped, timestamps as ISO 8601 strings."""
    return {
        key: (value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value)
        for key, value in row.items()
        if value is not None and value != ""
    }


def _parquet_chunks(source: str, size: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    total = Path(source).stat().st_size
    parquet = pq.ParquetFile(source)
    all_rows = max(parquet.metadata.num_rows, 1)
    done_rows = 0
    for batch in parquet.iter_batches(batch_size=size):
        table = pa.Table.from_batches([batch])
        content = [
            memoryview(buffer)  # the column data as read, without a copy
            for column in batch.columns
            for buffer in column.buffers()
            if buffer is not None
        ]
        chunk = Chunk(table=table, first_line=done_rows + 1, content=content)
        done_rows += batch.num_rows
        chunk.position = total * done_rows // all_rows
        yield chunk
