"""Store URLs -> store engines.

`sqlite:///relative.db`, `sqlite:////absolute/path.db`, `postgresql://user@host:port/db`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import AccessToken, App, Batch, Post, Reads, SchemaError, Store, User

__all__ = [
    "AccessToken",
    "App",
    "Batch",
    "Post",
    "Reads",
    "SchemaError",
    "Store",
    "User",
    "default_store_url",
    "open_store",
    "second_connection",
]


def default_store_url() -> str:
    """`$XDG_DATA_HOME/engagement-api/engagement.db` (~/.local/share/... when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return f"sqlite:///{Path(base) / 'engagement-api' / 'engagement.db'}"


def open_store(url: str) -> Store:
    """Open (and create or upgrade) the store at `url`.

    SQLite URLs follow the common convention: three slashes then a relative path, four for an
    absolute one. A bare file path is taken as a SQLite file.
    """
    if url.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        rest = url.removeprefix("sqlite:")
        if rest in ("", "//", "///:memory:", "//:memory:"):
            return SQLiteStore(":memory:", url)
        if not rest.startswith("///"):
            raise ValueError(f"Unsupported SQLite URL {url!r}: use sqlite:///path/to/file.db")
        return SQLiteStore(rest[3:], url)
    if url.startswith(("postgresql:", "postgres:")):
        from .postgres import PostgresStore

        return PostgresStore(url)
    if "://" not in url:
        from .sqlite import SQLiteStore

        return SQLiteStore(url, f"sqlite:///{url}")
    raise ValueError(
        f"Unsupported store URL {url!r}: use sqlite:///path/to/file.db or postgresql://..."
    )


def second_connection(store: Store) -> Store:
    """Another connection to the same store, for work on another thread; an in-memory
    SQLite store exists only in its one connection, so it is its own second connection."""
    if store.url.endswith(":memory:") or store.url in ("sqlite:", "sqlite://"):
        return store
    return open_store(store.url)
