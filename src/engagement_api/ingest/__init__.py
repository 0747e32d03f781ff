"""Ingest: read records, validate them, roll events up per (post, metric, hour), apply batches.

`readers` reads files and live bodies in chunks, `records` and `columnar` check records one by
one or column-wise, `prepare` turns a chunk into a batch, `pipeline` applies chunks in order.
"""

from .pipeline import BatchRejected, ingest_batch, ingest_records, ingest_source
from .prepare import IngestSummary
from .records import Rejected

__all__ = [
    "BatchRejected",
    "IngestSummary",
    "Rejected",
    "ingest_batch",
    "ingest_records",
    "ingest_source",
]
