"""Store URLs -> store engines.

`sqlite:///relative.db`, `sqlite:////absolute/path.db`, `postgresql://user@host:port/db`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import AccessToken, App, Batch, Post, User
from .interface import Reads, Store
from .migrations import SchemaError
from .secrets import SecretBox

# Read replicas (store/replicas.py), named here so that the command line need not import them.
READ_STORES_ENV = "ENGAGEMENT_API_READ_STORES"  # comma-separated
MAX_LAG_ENV = "ENGAGEMENT_API_MAX_REPLICA_LAG"
DEFAULT_MAX_LAG = 5.0  # seconds

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


def open_store(url: str, secrets: SecretBox | None = None) -> Store:
    """Open (and create or upgrade) the store at `url`.

    SQLite URLs follow the common convention: three slashes then a relative path, four for an
    absolute one. A bare file path is taken as a SQLite file. `secrets` opens the consumer
    and token secrets (the default key file when not given: `store.secrets`).
    """
    if url.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        rest = url.removeprefix("sqlite:")
        if rest in ("", "//", "///:memory:", "//:memory:"):
            return SQLiteStore(":memory:", url, secrets)
        if not rest.startswith("///"):
            raise ValueError(f"Unsupported SQLite URL {url!r}: use sqlite:///path/to/file.db")
        return SQLiteStore(rest[3:], url, secrets)
    if url.startswith(("postgresql:", "postgres:")):
        from .postgres import PostgresStore

        return PostgresStore(url, secrets)
    if "://" not in url:
        from .sqlite import SQLiteStore

        return SQLiteStore(url, f"sqlite:///{url}", secrets)
    raise ValueError(
        f"Unsupported store URL {url!r}: use sqlite:///path/to/file.db or postgresql://..."
    )


def second_connection(store: Store) -> Store:
    """Another connection to the same store, for work on another thread; an in-memory
    SQLite store exists only in its one connection, so it is its own second connection."""
    if store.url.endswith(":memory:") or store.url in ("sqlite:", "sqlite://"):
        return store
    return open_store(store.url, store.secrets)
