"""The contract layer: per-minute allowances and OAuth nonces, shared by every worker.

Backends (`open_contract`): `LocalContract`, an LMDB file on the local disk for one host and
any number of worker processes, `MemoryContract` for one process, and `RedisContract` for
many hosts. Both admit exactly: within one calendar minute of the wall clock, an app gets at
most its allowance of answered requests, and a refused (429) request uses none of it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .. import spec


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    limit: int
    remaining: int  # after this request
    reset: int  # seconds until the next minute
    nonce_reused: bool = False  # the request's OAuth nonce was seen before: nothing counted

    def headers(self) -> dict[str, str]:
        """X's two headers (FAQ) and the IETF RateLimit fields, on every answer."""
        return {
            spec.LIMIT_HEADER: str(self.limit),
            spec.REMAINING_HEADER: str(self.remaining),
            "ratelimit-policy": f'"{spec.RATE_POLICY}";q={self.limit};w={spec.RATE_WINDOW}',
            "ratelimit": f'"{spec.RATE_POLICY}";r={self.remaining};t={self.reset}',
        }


def nonce_key(consumer_key: str, nonce: str) -> bytes:
    """What a backend keeps of a nonce: 16 bytes of its hash with the consumer key's."""
    return hashlib.blake2b(f"{consumer_key}\0{nonce}".encode(), digest_size=16).digest()


def minute_of(wall_now: float) -> tuple[int, int]:
    """(the calendar minute, seconds until the next one)."""
    second = int(wall_now)
    return second // spec.RATE_WINDOW, spec.RATE_WINDOW - second % spec.RATE_WINDOW


REUSED = Admission(False, 0, 0, 0, nonce_reused=True)


class ContractUnavailable(RuntimeError):
    """The backend cannot count (Redis unreachable, a full file): requests get a 503, never
    an unchecked answer."""


class Contract(Protocol):
    """Per-minute allowances and nonces, and the integrator's toolkit state (faults, the data
    clock, the request journal), shared by every worker (and host, on Redis)."""

    def admit(
        self, app_id: int, limit: int, wall_now: float, nonce: bytes | None = None
    ) -> Admission:
        """One operation per request: refuse a nonce seen within spec.NONCE_TTL (`REUSED`),
        else spend it, then count the request in this minute if the app is under its
        allowance. `nonce` is `nonce_key(...)` of an OAuth 1.0a request."""
        ...

    def spend_nonce(self, nonce: bytes, wall_now: float) -> bool:
        """Spend a nonce that counts against no allowance (the 3-legged flow's requests):
        False when it was seen within spec.NONCE_TTL."""
        ...

    def attempts(self, key: str, window: int, add: bool) -> int:
        """Failed attempts under `key` in the current `window` seconds, counting one more
        first when `add` (sign-in throttling)."""
        ...

    def read_control(self) -> bytes | None:
        """The toolkit's settings as stored (JSON), or None when never set."""
        ...

    def write_control(self, document: bytes) -> None: ...

    def fire(self, rule: str, times: int | None) -> bool:
        """Count one firing of a fault rule: True unless it has fired `times` times already."""
        ...

    def fired(self, rules: list[str]) -> dict[str, int]: ...

    def add_entry(self, entry: bytes, keep: int) -> None:
        """Add to the request journal, keeping the newest `keep` entries."""
        ...

    def entries(self, limit: int) -> list[bytes]:
        """The newest `limit` journal entries, newest first."""
        ...

    def clear_entries(self) -> None: ...

    def close(self) -> None: ...


def contract_path(store_url: str) -> str:
    """Where the processes serving one store on this host share their contract: beside a
    SQLite store's file, else a file per store in the user's runtime folder (private)."""
    if store_url.startswith("sqlite:///"):
        return store_url.removeprefix("sqlite:///") + "-contract"
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = Path(base) / f"engagement-api-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    digest = hashlib.sha256(store_url.encode()).hexdigest()[:16]
    return str(folder / f"contract-{digest}.lmdb")


REDIS_ENV = "ENGAGEMENT_API_REDIS"


def open_contract(store_url: str, redis_url: str | None = None) -> Contract:
    """Redis when given (many hosts); otherwise the shared file of this store on this host, or
    this process's memory for an in-memory store."""
    from .local import LocalContract, MemoryContract

    if redis_url:
        from .redis_backend import RedisContract

        return RedisContract(redis_url)
    if store_url.endswith(":memory:") or store_url in ("sqlite:", "sqlite://"):
        return MemoryContract()
    return LocalContract(contract_path(store_url))
