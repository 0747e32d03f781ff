"""A change counter beside a SQLite store: every process that commits to the store moves it,
and server workers read it once per request from shared memory, where asking SQLite itself
(`PRAGMA data_version`) costs a statement each time.

The counter moves after the commit it announces, so a reader that sees it move reads the
committed state. A process killed between a commit and the move is caught by the stores'
periodic `PRAGMA data_version` check (`SQLiteStore.changes`).
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct

_COUNTER = struct.Struct("<Q")


class ChangeCounter:
    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < mmap.PAGESIZE:
            os.ftruncate(self._fd, mmap.PAGESIZE)
        self._map = mmap.mmap(self._fd, mmap.PAGESIZE)

    def value(self) -> int:
        return _COUNTER.unpack_from(self._map)[0]

    def move(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            _COUNTER.pack_into(self._map, 0, (_COUNTER.unpack_from(self._map)[0] + 1) % 2**64)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
