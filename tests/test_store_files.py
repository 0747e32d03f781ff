"""The SQLite store's files: private to their owner, and shared correctly by the connections
of one process and of others (WAL, POSIX locks)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys

from helpers import ALICE

from engagement_api.store import User, open_store, second_connection


def test_a_second_connection_keeps_every_write_visible_to_other_processes(tmp_path):
    """A descriptor of the database file closed by this process would drop the locks of its
    SQLite connections: another process would then take the WAL for its own and delete it,
    and what this process writes next would go nowhere."""
    url = f"sqlite:///{tmp_path}/store.db"
    with open_store(url) as store:
        writer = second_connection(store)
        try:
            # another process opens and closes the store, as the command line does
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"from engagement_api.store import open_store; open_store({url!r}).close()",
                ],
                check=True,
                env=os.environ,
            )
            writer.upsert_user(User(ALICE, "alice"))
            seen = sqlite3.connect(f"{tmp_path}/store.db").execute("SELECT handle FROM users")
            assert seen.fetchall() == [("alice",)]
        finally:
            writer.close()


def test_the_store_files_are_private(tmp_path):
    with open_store(f"sqlite:///{tmp_path}/store.db") as store:
        store.upsert_user(User(ALICE, "alice"))
        for name in ("store.db", "store.db-wal", "store.db-shm", "store.db-changes"):
            path = tmp_path / name
            if path.exists():
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
