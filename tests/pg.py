"""A throwaway PostgreSQL server for the tests, from the installed binaries.

initdb and pg_ctl on a free loopback port in a temporary folder, removed afterwards. As root
(CI), the server runs as the `postgres` user, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def binaries() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "pg_ctl")):
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PostgresServer:
    """A server of its own; with `replica_of`, a streaming replica of that one, made with
    `pg_basebackup -R` (it follows the primary from then on)."""

    def __init__(self, replica_of: PostgresServer | None = None) -> None:
        bindir = binaries()
        if bindir is None:
            raise RuntimeError("PostgreSQL binaries not found (apt-get install postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="engagement-pg-"))
        self.data = self.folder / "data"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.folder, "postgres")
        if replica_of is None:
            self._run(
                bindir / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                "--no-sync", "-E", "UTF8",
            )  # fmt: skip
        else:
            self._run(
                bindir / "pg_basebackup", "-D", self.data, "-R", "-X", "stream", "-c", "fast",
                "-h", "127.0.0.1", "-p", str(replica_of.port), "-U", "postgres",
            )  # fmt: skip
        self._pg_ctl = bindir / "pg_ctl"
        self.start()

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
            "-c wal_receiver_status_interval=1"
        )
        self._run(
            self._pg_ctl, "-D", self.data, "-o", options, "-l", self.folder / "log", "-w",
            "start",
        )  # fmt: skip

    def halt(self) -> None:
        """Stop at once, as a crash would (start() brings it back)."""
        self._run(self._pg_ctl, "-D", self.data, "-m", "immediate", "-w", "stop")

    def _run(self, *args) -> None:
        subprocess.run([*self._as, *map(str, args)], check=True, capture_output=True, timeout=120)

    def url(self, database: str = "postgres", schema: str | None = None) -> str:
        url = f"postgresql://postgres@127.0.0.1:{self.port}/{database}"
        return url + (f"?options=-csearch_path%3D{schema}" if schema else "")

    def stop(self) -> None:
        try:
            self._run(self._pg_ctl, "-D", self.data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
