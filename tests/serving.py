"""A real `engagement-api serve` in a process of its own, and the instruments that judge it:
how long `/health` waits while an attack runs, how much the workers' memory grows."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from helpers import free_port

ENGAGEMENT_API = str(Path(sys.executable).parent / "engagement-api")


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen
    store: str
    env: dict
    admin: str
    consumer_key: str
    consumer_secret: str
    bearer: str
    log: Path
    pids: list[int] = field(default_factory=list)

    def worker_pids(self) -> list[int]:
        """The processes answering requests: the workers of `--workers N`, else the server
        (found once: `pids` then holds them)."""
        if self.pids:
            return self.pids
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        workers = [int(p) for p in children if _is_python(int(p))]
        self.pids = workers or [self.process.pid]
        return self.pids

    def rss(self) -> int:
        """Bytes resident, summed over the worker processes."""
        return sum(rss_of(pid) for pid in self.worker_pids())


def _is_python(pid: int) -> bool:
    try:
        return (
            "python" in Path(f"/proc/{pid}/cmdline").read_text()
            or "engagement" in Path(f"/proc/{pid}/cmdline").read_text()
        )
    except OSError:
        return False


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cli(store: str, env: dict, *args: str) -> dict:
    done = subprocess.run(
        [ENGAGEMENT_API, "--store", store, *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@dataclass
class Prepared:
    """A store with an app (its consumer credentials) and an admin token."""

    store: str
    env: dict
    consumer_key: str
    consumer_secret: str
    admin: str
    app_id: str


def prepare(
    folder: Path, records: list[dict] | None = None, *app_options: str, store: str | None = None
) -> Prepared:
    """A store (a SQLite file in `folder` unless `store` names one) with `records`, an app and
    an admin token."""
    store = store or f"sqlite:///{folder}/store.db"
    env = {**os.environ, "ENGAGEMENT_API_KEY_FILE": str(folder / "secrets.key")}
    if records:
        data = folder / "records.ndjson"
        data.write_text("".join(json.dumps(r) + "\n" for r in records))
        subprocess.run(
            [
                ENGAGEMENT_API,
                "--store",
                store,
                "--now",
                "2026-11-20T12:30:00Z",
                "ingest",
                "-q",
                str(data),
            ],
            env=env,
            capture_output=True,
        )
    app = cli(
        store, env, "apps", "create", "--name", "served", "--rate-limit", "1000000", *app_options
    )
    admin = cli(store, env, "admin-token", "create")["admin_token"]
    return Prepared(store, env, app["consumer_key"], app["consumer_secret"], admin, app["app_id"])


@contextmanager
def serve(
    folder: Path,
    *options: str,
    records: list[dict] | None = None,
    prepared: Prepared | None = None,
    global_options: tuple[str, ...] = (),
):
    """`engagement-api serve` on a store (fresh, with an app, a bearer token and an admin
    token, unless `prepared` is given); stopped afterwards."""
    prepared = prepared or prepare(folder, records)
    port = free_port()
    log = folder / f"server-{port}.log"
    process = subprocess.Popen(
        [
            ENGAGEMENT_API,
            "--store",
            prepared.store,
            "--now",
            "2026-11-20T12:30:00Z",
            *global_options,
            "serve",
            "--port",
            str(port),
            "--log-level",
            "info",
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115 - closed with the process
        env=prepared.env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)
    token = requests.post(
        url + "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(prepared.consumer_key, prepared.consumer_secret),
        timeout=10,
    ).json()["access_token"]
    try:
        yield Served(
            url,
            port,
            process,
            prepared.store,
            prepared.env,
            prepared.admin,
            prepared.consumer_key,
            prepared.consumer_secret,
            token,
            log,
        )
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


PROBE = Path(__file__).with_name("health_probe.py")


class HealthProbe:
    """Asks `/health` every 20 ms on fresh connections while an attack runs, from a process of
    its own (so the attack's client, in this process, cannot delay the probe). `worst` is the
    longest wait in seconds, `failures` the probes that got no 200; `quiet` the worst wait of
    the same probing for half a second before the attack (what the machine's own load adds),
    so `stall` is what the attack made the server wait."""

    QUIET = 0.5

    def __init__(self, url: str) -> None:
        self.url = url + "/health"
        self.worst = self.quiet = 0.0
        self.failures = self.probes = 0

    @property
    def stall(self) -> float:
        return max(self.worst - self.quiet, 0.0)

    def __enter__(self) -> HealthProbe:
        self._process = subprocess.Popen(
            [sys.executable, str(PROBE), self.url, str(self.QUIET)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(self.QUIET + 0.1)
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.1)
        self._process.terminate()
        lines = self._process.communicate(timeout=40)[0].splitlines()
        if lines:
            self.probes, self.failures, self.worst, self.quiet = json.loads(lines[-1])
        if os.environ.get("HOSTILE_REPORT"):  # the figures of a run, for the record
            print(
                f"\n/health: {self.probes} probes, worst {self.worst * 1000:.1f} ms, "
                f"quiet {self.quiet * 1000:.1f} ms, failures {self.failures}"
            )


def raw_request(port: int, data: bytes, timeout: float = 30.0) -> tuple[bytes, float]:
    """Send bytes on a new socket; (everything the server answered before closing, seconds)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        while True:
            try:
                part = sock.recv(65536)
            except OSError:
                break
            if not part:
                break
            answer += part
    return answer, time.monotonic() - started


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def json_of(answer: bytes) -> dict:
    return json.loads(answer.partition(b"\r\n\r\n")[2] or b"{}")
