"""The contract of one host: per-minute counts and OAuth nonces shared by every process serving
a store, in an LMDB file (memory-mapped; write transactions serialized across processes by
LMDB's own lock, a few µs each), or in this process's memory for a single process.

Counts: one entry per app, (minute, count), reset when the minute turns. Nonces: remembered
in the slot of their 600-second period and looked up in the current and previous ones, so each
is refused for at least `spec.NONCE_TTL` seconds; a slot is emptied when a new period reuses
it, so the file holds the nonces of at most three periods.
"""

from __future__ import annotations

import struct
import threading
import time
from collections import OrderedDict, deque

import lmdb

from .. import spec
from . import REUSED, Admission, ContractUnavailable, minute_of

_COUNT = struct.Struct("<qq")  # minute, count
_NUMBER = struct.Struct("<q")
_SEQUENCE = struct.Struct(">Q")  # big-endian: LMDB keeps keys in byte order
_PERIOD_KEY = b"\0period"  # in each nonce slot: the period it holds
_SLOTS = 3
MAP_SIZE = 2**32  # bytes: a sparse file, some 40 million nonces; then 503s, never unchecked


class LocalContract:
    def __init__(self, path: str) -> None:
        self.path = path
        self._env = lmdb.open(
            path,
            subdir=False,
            map_size=MAP_SIZE,
            max_dbs=_SLOTS + 3,
            sync=False,  # a crash forgets at most recent counts and nonces
            metasync=False,
            writemap=True,  # commits write into the shared map: no system call per request
            map_async=True,
            mode=0o600,
        )
        self._counts = self._env.open_db(b"counts")
        self._slots = [self._env.open_db(b"nonces-%d" % i) for i in range(_SLOTS)]
        self._control = self._env.open_db(b"control")
        self._journal = self._env.open_db(b"journal")
        self._ready = -1  # the period whose slots this process has checked

    def admit(
        self, app_id: int, limit: int, wall_now: float, nonce: bytes | None = None
    ) -> Admission:
        minute, reset = minute_of(wall_now)
        key = _NUMBER.pack(app_id)
        try:
            with self._env.begin(write=True) as txn:
                if nonce is not None and not self._spend(txn, nonce, int(wall_now)):
                    return REUSED
                found = txn.get(key, db=self._counts)
                counted, count = _COUNT.unpack(found) if found else (minute, 0)
                if counted != minute:
                    count = 0
                if count >= limit:
                    return Admission(False, limit, 0, reset)
                txn.put(key, _COUNT.pack(minute, count + 1), db=self._counts)
        except lmdb.Error as error:
            raise ContractUnavailable(f"the contract file {self.path}: {error}") from error
        return Admission(True, limit, limit - count - 1, reset)

    def _spend(self, txn, nonce: bytes, now: int) -> bool:
        period = now // spec.NONCE_TTL
        current = self._slots[period % _SLOTS]
        previous = self._slots[(period - 1) % _SLOTS]
        if period != self._ready:  # once a period per process: is each slot what we think?
            held = txn.get(_PERIOD_KEY, db=current)
            if held is None or _NUMBER.unpack(held)[0] != period:
                txn.drop(current, delete=False)  # a new period reuses the oldest slot
                txn.put(_PERIOD_KEY, _NUMBER.pack(period), db=current)
            held = txn.get(_PERIOD_KEY, db=previous)
            self._previous_valid = held is not None and _NUMBER.unpack(held)[0] == period - 1
            self._ready = period
        if self._previous_valid and txn.get(nonce, db=previous) is not None:
            return False
        return txn.put(nonce, b"", db=current, overwrite=False)

    def spend_nonce(self, nonce: bytes, wall_now: float) -> bool:
        with self._env.begin(write=True) as txn:
            return self._spend(txn, nonce, int(wall_now))

    def attempts(self, key: str, window: int, add: bool) -> int:
        stamp = int(time.time()) // window
        name = b"attempts:" + key.encode()
        with self._env.begin(write=add, db=self._control) as txn:
            found = txn.get(name)
            period, count = _COUNT.unpack(found) if found else (stamp, 0)
            count = count if period == stamp else 0
            if add:
                count += 1
                txn.put(name, _COUNT.pack(stamp, count))
        return count

    # -- the toolkit's shared state ----------------------------------------------------------
    def read_control(self) -> bytes | None:
        with self._env.begin(db=self._control) as txn:
            return txn.get(b"settings")

    def write_control(self, document: bytes) -> None:
        with self._env.begin(write=True, db=self._control) as txn:
            txn.put(b"settings", document)

    def fire(self, rule: str, times: int | None) -> bool:
        key = b"fired:" + rule.encode()
        with self._env.begin(write=True, db=self._control) as txn:
            found = txn.get(key)
            count = _NUMBER.unpack(found)[0] if found else 0
            if times is not None and count >= times:
                return False
            txn.put(key, _NUMBER.pack(count + 1))
            return True

    def fired(self, rules: list[str]) -> dict[str, int]:
        with self._env.begin(db=self._control) as txn:
            found = {r: txn.get(b"fired:" + r.encode()) for r in rules}
        return {r: _NUMBER.unpack(v)[0] if v else 0 for r, v in found.items()}

    def add_entry(self, entry: bytes, keep: int) -> None:
        with self._env.begin(write=True, db=self._journal) as txn:
            cursor = txn.cursor()
            last = _SEQUENCE.unpack(cursor.key())[0] if cursor.last() else 0
            txn.put(_SEQUENCE.pack(last + 1), entry)
            if last + 1 > keep and cursor.first():  # keys grow: the first is the oldest
                for _ in range(last + 1 - keep):
                    if not cursor.delete():
                        break

    def entries(self, limit: int) -> list[bytes]:
        out: list[bytes] = []
        with self._env.begin(db=self._journal) as txn:
            cursor = txn.cursor()
            if cursor.last():
                for _, value in cursor.iterprev():
                    out.append(value)
                    if len(out) >= limit:
                        break
        return out

    def clear_entries(self) -> None:
        with self._env.begin(write=True) as txn:
            txn.drop(self._journal, delete=False)

    def close(self) -> None:
        self._env.close()


class MemoryContract:
    """The same contract for one process (tests, an in-memory store)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[int, tuple[int, int]] = {}
        self._nonces: OrderedDict[bytes, float] = OrderedDict()  # oldest first
        self._control: bytes | None = None
        self._attempts: dict[str, tuple[int, int]] = {}
        self._fired: dict[str, int] = {}
        self._journal: deque[bytes] = deque()

    def admit(
        self, app_id: int, limit: int, wall_now: float, nonce: bytes | None = None
    ) -> Admission:
        minute, reset = minute_of(wall_now)
        if nonce is not None and not self.spend_nonce(nonce, wall_now):
            return REUSED
        with self._lock:
            counted, count = self._counts.get(app_id, (minute, 0))
            if counted != minute:
                count = 0
            if count >= limit:
                return Admission(False, limit, 0, reset)
            self._counts[app_id] = (minute, count + 1)
        return Admission(True, limit, limit - count - 1, reset)

    def spend_nonce(self, nonce: bytes, wall_now: float) -> bool:
        with self._lock:
            nonces = self._nonces
            while nonces and next(iter(nonces.values())) < wall_now - spec.NONCE_TTL:
                nonces.popitem(last=False)
            if nonce in nonces:
                return False
            nonces[nonce] = wall_now
            return True

    def attempts(self, key: str, window: int, add: bool) -> int:
        stamp = int(time.time()) // window
        with self._lock:
            period, count = self._attempts.get(key, (stamp, 0))
            count = count if period == stamp else 0
            if add:
                count += 1
                self._attempts[key] = (stamp, count)
        return count

    def read_control(self) -> bytes | None:
        return self._control

    def write_control(self, document: bytes) -> None:
        self._control = document

    def fire(self, rule: str, times: int | None) -> bool:
        with self._lock:
            count = self._fired.get(rule, 0)
            if times is not None and count >= times:
                return False
            self._fired[rule] = count + 1
            return True

    def fired(self, rules: list[str]) -> dict[str, int]:
        return {rule: self._fired.get(rule, 0) for rule in rules}

    def add_entry(self, entry: bytes, keep: int) -> None:
        with self._lock:
            self._journal.appendleft(entry)
            while len(self._journal) > keep:
                self._journal.pop()

    def entries(self, limit: int) -> list[bytes]:
        return list(self._journal)[:limit]

    def clear_entries(self) -> None:
        self._journal.clear()

    def close(self) -> None:
        pass
