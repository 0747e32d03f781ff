"""Shared helpers of the benchmark scripts: data, PostgreSQL, servers, wrk, measured children,
and the markdown tables.

Nothing here writes inside the repository: simulated files, stores and logs go under the
folder named by BENCH_DATA (default /tmp/engagement-bench).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PEERS_DIR = BENCH_DIR / "peers"
NOW = "2026-11-20T12:30:00Z"  # the frozen data clock of every simulate, ingest and serve
PYTHON = sys.executable


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def data_dir() -> Path:
    folder = Path(os.environ.get("BENCH_DATA", "/tmp/engagement-bench")).resolve()
    if BENCH_DIR.parent in (folder, *folder.parents):
        raise SystemExit(f"BENCH_DATA={folder} is inside the repository; choose a folder outside")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def engagement_api() -> list[str]:
    found = shutil.which("engagement-api") or str(Path(PYTHON).parent / "engagement-api")
    return [found]


def add_load_options(parser, warmup_help: str, log_help: str, reuse_help: str) -> None:
    """The options every wrk benchmark shares: data, load, our server's engine and store."""
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=float, default=30, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2, help=warmup_help)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--engine",
        choices=["sqlite", "postgresql", "both"],
        default="sqlite",
        help="our store engine",
    )
    parser.add_argument("--ours-log-level", default="warning", help=log_help)
    parser.add_argument("--reuse-store", action="store_true", help=reuse_help)


def serve_command(
    store: str, port: int, workers: int, log_level: str, global_options: Sequence[str] = ()
) -> list[str]:
    """`engagement-api serve` on 127.0.0.1 with the benchmarks' frozen clock."""
    return [
        *engagement_api(),
        "--store",
        store,
        "--now",
        NOW,
        *global_options,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        log_level,
    ]


def cli(*args: str, store: str | None = None, check: bool = True) -> str:
    """Run `engagement-api [--store URL] --now NOW ARGS...`; its stdout."""
    command = [*engagement_api(), *(["--store", store] if store else []), "--now", NOW, *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


# -- data --------------------------------------------------------------------------------
def simulated(posts: int, events: int, seed: int = 1) -> Path:
    """The simulated Parquet file for these sizes, made once and cached under BENCH_DATA."""
    path = data_dir() / f"sim-p{posts}-e{events}-s{seed}.parquet"
    if not path.exists():
        log(f"simulating {posts:,} posts and {events:,} events -> {path}")
        partial = path.with_suffix(".partial.parquet")
        cli(
            "simulate",
            "--posts",
            str(posts),
            "--events",
            str(events),
            "--out",
            str(partial),
            "--seed",
            str(seed),
        )
        partial.rename(path)
    return path


@dataclass(frozen=True)
class PostRow:
    id: str
    author_id: str
    handle: str
    created_s: int
    video_id: str | None


def public_posts(path: Path) -> list[PostRow]:
    """Posts of the simulated file that answer 200: neither protected nor deleted."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(
        path,
        columns=[
            "record",
            "id",
            "author_id",
            "handle",
            "created_at",
            "protected",
            "deleted",
            "video_id",
        ],
        filters=[("record", "=", "post")],
    )
    keep = pc.and_(
        pc.invert(pc.fill_null(table["protected"], False)),
        pc.invert(pc.fill_null(table["deleted"], False)),
    )
    table = table.filter(keep)
    created = [int(value.timestamp()) for value in table["created_at"].to_pylist()]
    return [
        PostRow(i, a, h, c, v)
        for i, a, h, c, v in zip(
            table["id"].to_pylist(),
            table["author_id"].to_pylist(),
            table["handle"].to_pylist(),
            created,
            table["video_id"].to_pylist(),
            strict=True,
        )
    ]


# -- processes ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server child in its own process group, stopped with SIGTERM (then SIGKILL)."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        port: int,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = data_dir() / f"server-{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            list(command),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.process.returncode}); "
                    f"see {self.log_path}:\n{self.log_path.read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass(frozen=True)
class Measured:
    returncode: int
    seconds: float
    max_rss: int  # bytes, the child's peak resident set
    stdout: str
    stderr: str


def run_measured(command: Sequence[str], env: dict[str, str] | None = None) -> Measured:
    """Run a child to completion: its wall time and peak RSS (wait4 rusage, Linux KiB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdout=out, stderr=err, env={**os.environ, **(env or {})}
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            process.returncode,
            seconds,
            usage.ru_maxrss * 1024,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


# -- PostgreSQL --------------------------------------------------------------------------
def pg_binaries() -> Path:
    import glob

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "pg_ctl")):
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if not found:
        raise SystemExit("PostgreSQL binaries not found (apt-get install postgresql)")
    return Path(found).parent


class Postgres:
    """A throwaway PostgreSQL cluster on a free loopback port, removed on stop().

    Durability is off (fsync, synchronous_commit, full_page_writes): both sides of every
    comparison run on the same server, and the benchmark measures CPU paths, not the disk.
    """

    def __init__(self, replica_of: Postgres | None = None) -> None:
        """With `replica_of`, a streaming replica of that cluster (`pg_basebackup -R`)."""
        bindir = pg_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="pg-", dir=data_dir()))
        self.data = self.folder / "data"
        self.port = free_port()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.folder, "postgres")
        self._pg_ctl = bindir / "pg_ctl"
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
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.folder} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=100 -c shared_buffers=256MB "
            "-c max_wal_size=4GB"
        )
        log(f"starting PostgreSQL on 127.0.0.1:{self.port}")
        self._run(
            self._pg_ctl, "-D", self.data, "-o", options, "-l", self.folder / "log", "-w", "start"
        )

    def _run(self, *args) -> None:
        subprocess.run([*self._as, *map(str, args)], check=True, capture_output=True, timeout=1800)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def fresh_database(self, name: str) -> str:
        """Drop and create database `name`; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(self._pg_ctl, "-D", self.data, "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Postgres:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# -- wrk ---------------------------------------------------------------------------------
def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: apt-get update && apt-get install -y wrk")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("could not install wrk")
    return found


@dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    output: str

    @property
    def failures(self) -> int:
        return self.non_2xx + self.socket_errors


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if not (rps and total and p50 and p99):
        raise RuntimeError(f"cannot parse wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(total.group(1)),
        rps=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, errors.groups())) if errors else 0,
        output=output,
    )


def run_wrk(
    url: str, script: Path, duration: float, threads: int, connections: int, timeout: float = 10.0
) -> WrkResult:
    command = [
        ensure_wrk(),
        "--latency",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={round(timeout)}s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + timeout + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)


# -- tables ------------------------------------------------------------------------------
def ratio(ours: float | None, theirs: float | None) -> float | None:
    if not ours or not theirs:
        return None
    return ours / theirs


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:,.0f}×"
    return f"{value:.2f}×" if value < 10 else f"{value:.1f}×"


def fmt_number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def fmt_bytes(value: int | None) -> str:
    if value is None:
        return "–"
    return f"{value / 2**20:,.0f} MiB"


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "NOT met")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(headers), separator, *(line(r) for r in rows)])
