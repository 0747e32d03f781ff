"""Input files -> chunks of raw records, with line numbers, in NDJSON, CSV or Parquet.

Each chunk carries the bytes that identify its content, so a replayed input is recognised
chunk by chunk (see `ingest.ingest_source`).
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import orjson

CHUNK_RECORDS = 50_000
BOOLEAN_FIELDS = ("protected", "deleted", "promoted")
_TRUE = {"true", "1", "yes", "t"}
_FALSE = {"false", "0", "no", "f"}


@dataclass(slots=True)
class Chunk:
    records: list[tuple[int, dict | str]] = field(default_factory=list)  # (line, record | error)
    content: list[bytes] = field(default_factory=list)  # what identifies this chunk's input
    position: int = 0  # bytes of the input consumed so far, for progress bars


def detect_format(name: str) -> str:
    lowered = name.lower().removesuffix(".gz")
    if lowered.endswith((".parquet", ".pq")):
        return "parquet"
    if lowered.endswith((".csv", ".tsv")):
        return "csv"
    return "ndjson"  # .ndjson, .jsonl, .json and stdin


def read_chunks(source: str, chunk_records: int = CHUNK_RECORDS) -> Iterator[Chunk]:
    kind = detect_format(source)
    if kind == "parquet":
        yield from _parquet_chunks(source, chunk_records)
        return
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


def _ndjson_chunks(stream: BinaryIO, raw: BinaryIO, size: int) -> Iterator[Chunk]:
    chunk = Chunk()
    for line_no, line in enumerate(stream, start=1):
        chunk.content.append(line)
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            chunk.records.append((line_no, f"not valid JSON ({error.msg})"))
        else:
            chunk.records.append(
                (line_no, value if isinstance(value, dict) else "not a JSON object")
            )
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


def _parquet_value(value):
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _parquet_chunks(source: str, size: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    total = Path(source).stat().st_size
    parquet = pq.ParquetFile(source)
    row_no = 0
    done_rows = 0
    all_rows = max(parquet.metadata.num_rows, 1)
    for batch in parquet.iter_batches(batch_size=size):
        rows = batch.to_pylist()
        chunk = Chunk(content=[orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC)])
        for row in rows:
            row_no += 1
            record = {k: _parquet_value(v) for k, v in row.items() if v is not None and v != ""}
            chunk.records.append((row_no, record))
        done_rows += len(rows)
        chunk.position = total * done_rows // all_rows
        yield chunk
