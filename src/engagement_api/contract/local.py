"""The contract of one host: per-minute counts and OAuth nonces shared by every process serving
a store, in an LMDB file (memory-mapped; write transactions serialized across processes by
LMDB's own lock, about 1-2 µs each), or in this process's memory for a single process.

Counts: one entry per app, (minute, count), reset when the minute turns. Nonces: remembered
in the slot of their 600-second period and checked in the current and previous ones, so each
is refused for at least `spec.NONCE_TTL` seconds; a slot is emptied when a new period reuses
it, so the file stays bounded by the nonces of two periods.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections import OrderedDict

import lmdb

from .. import spec
from . import Admission, minute_of

_COUNT = struct.Struct("<qq")  # minute, count
_PERIOD = struct.Struct("<q")
_PERIOD_KEY = b"\0period"  # in each nonce slot: the period it holds
_SLOTS = 3
MAP_SIZE = 2**34  # bytes of address space; the file only grows as entries are written


def _nonce_key(consumer_key: str, nonce: str) -> bytes:
    return hashlib.blake2b(f"{consumer_key}\0{nonce}".encode(), digest_size=16).digest()


class LocalContract:
    def __init__(self, path: str) -> None:
        self.path = path
        self._env = lmdb.open(
            path,
            subdir=False,
            map_size=MAP_SIZE,
            max_dbs=_SLOTS + 1,
            sync=False,  # a crash forgets at most recent counts and nonces
            metasync=False,
            mode=0o600,
        )
        self._counts = self._env.open_db(b"counts")
        self._slots = [self._env.open_db(b"nonces-%d" % i) for i in range(_SLOTS)]

    def admit(self, app_id: int, limit: int, wall_now: float) -> Admission:
        minute, reset = minute_of(wall_now)
        key = _PERIOD.pack(app_id)
        with self._env.begin(write=True, db=self._counts) as txn:
            found = txn.get(key)
            counted, count = _COUNT.unpack(found) if found else (minute, 0)
            if counted != minute:
                count = 0
            if count >= limit:
                return Admission(False, limit, 0, reset)
            txn.put(key, _COUNT.pack(minute, count + 1))
        return Admission(True, limit, limit - count - 1, reset)

    def spend_nonce(self, consumer_key: str, nonce: str, wall_now: float) -> bool:
        period = int(wall_now) // spec.NONCE_TTL
        key = _nonce_key(consumer_key, nonce)
        current = self._slots[period % _SLOTS]
        previous = self._slots[(period - 1) % _SLOTS]
        with self._env.begin(write=True) as txn:
            held = txn.get(_PERIOD_KEY, db=current)
            if held is None or _PERIOD.unpack(held)[0] != period:
                txn.drop(current, delete=False)  # a new period reuses the oldest slot
                txn.put(_PERIOD_KEY, _PERIOD.pack(period), db=current)
            held = txn.get(_PERIOD_KEY, db=previous)
            if held is not None and _PERIOD.unpack(held)[0] == period - 1:
                if txn.get(key, db=previous) is not None:
                    return False
            return txn.put(key, b"", db=current, overwrite=False)

    def close(self) -> None:
        self._env.close()


class MemoryContract:
    """The same contract for one process (tests, an in-memory store)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[int, tuple[int, int]] = {}
        self._nonces: OrderedDict[bytes, float] = OrderedDict()  # oldest first

    def admit(self, app_id: int, limit: int, wall_now: float) -> Admission:
        minute, reset = minute_of(wall_now)
        with self._lock:
            counted, count = self._counts.get(app_id, (minute, 0))
            if counted != minute:
                count = 0
            if count >= limit:
                return Admission(False, limit, 0, reset)
            self._counts[app_id] = (minute, count + 1)
        return Admission(True, limit, limit - count - 1, reset)

    def spend_nonce(self, consumer_key: str, nonce: str, wall_now: float) -> bool:
        key = _nonce_key(consumer_key, nonce)
        with self._lock:
            nonces = self._nonces
            while nonces and next(iter(nonces.values())) < wall_now - spec.NONCE_TTL:
                nonces.popitem(last=False)
            if key in nonces:
                return False
            nonces[key] = wall_now
            return True

    def close(self) -> None:
        pass
