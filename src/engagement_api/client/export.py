"""Rows to files and frames: CSV, JSON Lines, Parquet (pyarrow), pandas or polars."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

FORMATS = ("table", "csv", "jsonl", "parquet")


@contextmanager
def _text(target: Any):
    """An open text file for a path, or the file given."""
    if isinstance(target, str | Path):
        with open(target, "w", newline="", encoding="utf-8") as handle:
            yield handle
    else:
        yield target


def write_csv(target: Any, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    with _text(target) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        written = 0
        for row in rows:
            writer.writerow(row)
            written += 1
    return written


def write_jsonl(target: Any, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    with _text(target) as handle:
        written = 0
        for row in rows:
            handle.write(json.dumps(dict(zip(columns, row, strict=True))) + "\n")
            written += 1
    return written


def arrow_table(columns: Sequence[str], rows: Iterable[tuple]):
    import pyarrow as pa

    types = {
        "tweet_id": pa.string(),
        "metric": pa.string(),
        "day": pa.date32(),
        "hour": pa.int8(),
        "count": pa.int64(),
    }
    listed = list(zip(*rows, strict=True)) or [()] * len(columns)
    arrays = []
    for name, values in zip(columns, listed, strict=True):
        if name == "day":
            values = [date.fromisoformat(v) for v in values]
        arrays.append(pa.array(values, type=types[name]))
    return pa.Table.from_arrays(arrays, names=list(columns))


def write_parquet(target: Any, table) -> int:
    import pyarrow.parquet as pq

    pq.write_table(table, target)
    return table.num_rows


def to_pandas(table):
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise ImportError("to_pandas needs pandas: pip install pandas") from None
    return table.to_pandas()


def to_polars(table):
    try:
        import polars
    except ImportError:
        raise ImportError("to_polars needs polars: pip install polars") from None
    return polars.from_arrow(table)


def format_table(columns: Sequence[str], rows: Iterable[tuple]) -> str:
    """Aligned columns for a terminal; counts right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(columns)]
    numeric = {"count", "hour", "rank"}

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if name in numeric else v.ljust(w)
            for v, w, name in zip(values, widths, columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = io.StringIO()
    out.write(line(list(columns)) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    return out.getvalue()
