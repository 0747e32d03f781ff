"""A hostile run: the probe's attacks against `engagement-api serve`, ours beside another build.

    python bench/bench_hostile.py [--baseline /path/to/landed/bin/engagement-api]

Each case is sent to a fresh server (SQLite, the test world's posts, one worker) while a
separate process asks `/health` every 20 ms; the table gives, per case and server: requests
sent, 5xx answers, other failures (no answer), the worst wait of `/health` and the peak
resident memory of the server process. `--baseline` names the `engagement-api` of another
build (for instance the landed code: `git worktree add /tmp/landed <rev>; python -m venv
/tmp/landed-venv; /tmp/landed-venv/bin/pip install -e /tmp/landed`); without it only ours
runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

import common
from common import NOW, log

MIB = 1024 * 1024
TOTALS = "/insights/engagement/totals"
WORLD = [
    {
        "record": "post",
        "id": "1100000000000000001",
        "author_id": "1001",
        "handle": "alice",
        "created_at": "2026-11-19T06:10:00Z",
    },
    {
        "record": "engagement",
        "post_id": "1100000000000000001",
        "type": "favorites",
        "at": "2026-11-19T09:30:00Z",
        "count": 12,
    },
]
BODY = json.dumps(
    {
        "tweet_ids": ["1100000000000000001"],
        "engagement_types": ["favorites"],
        "groupings": {"g": {"group_by": ["tweet.id", "engagement.type"]}},
    }
).encode()
PROBE = Path(__file__).resolve().parents[1] / "tests" / "health_probe.py"  # run, not imported


@dataclass
class Outcome:
    requests: int = 0
    server_errors: int = 0
    no_answer: int = 0
    worst_health_ms: float = 0.0
    peak_rss: int = 0


class Target:
    """A server of one build on a fresh store, with an app, a bearer token, an admin token."""

    def __init__(self, command: str, folder: Path) -> None:
        self.command = command
        self.folder = folder
        self.store = f"sqlite:///{folder}/store.db"
        self.env = {**os.environ, "ENGAGEMENT_API_KEY_FILE": str(folder / "secrets.key")}
        data = folder / "world.ndjson"
        data.write_text("".join(json.dumps(r) + "\n" for r in WORLD))
        self._cli("--now", NOW, "ingest", "-q", str(data), check=False)
        app = json.loads(
            self._cli("apps", "create", "--name", "hostile", "--rate-limit", "1000000")
        )
        self.admin = json.loads(self._cli("admin-token", "create"))["admin_token"]
        self.consumer = (app["consumer_key"], app["consumer_secret"])
        self.port = common.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                command,
                "--store",
                self.store,
                "--now",
                NOW,
                "serve",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not start") from None
                time.sleep(0.1)

    def _cli(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [self.command, "--store", self.store, *args],
            capture_output=True,
            text=True,
            env=self.env,
        )
        if check and done.returncode:
            raise RuntimeError(done.stderr)
        return done.stdout

    def rss(self) -> int:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def send(port: int, data: bytes, timeout: float = 180.0) -> int:
    """Bytes on a new socket, sent by a thread while this one reads (a server may answer and
    close before the client is done sending); the status answered (0: none)."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return 0

    def push() -> None:
        with contextlib.suppress(OSError):
            sock.sendall(data)

    sender = threading.Thread(target=push, daemon=True)
    sender.start()
    try:
        answer = sock.recv(64)
    except OSError:
        answer = b""
    finally:
        sock.close()
        sender.join(timeout)
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def post(path: str, body: bytes, *headers: str) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def cases(args) -> dict[str, callable]:
    members = gzip.compress(b"", mtime=0) * (args.gzip_mb * MIB // 20)
    junk = b"x\n" * (args.junk_mb * MIB // 2)

    def gzip_members(t: Target) -> list[int]:
        return [send(t.port, post("/oauth2/token", members, "Content-Encoding: gzip"))]

    def junk_batch(t: Target) -> list[int]:
        return [
            send(
                t.port,
                post(
                    "/admin/ingest",
                    junk,
                    f"Authorization: Bearer {t.admin}",
                    "Idempotency-Key: junk",
                ),
            )
        ]

    def long_timestamps(t: Target) -> list[int]:
        out = []
        for digits in (310, 5000) * 5:
            header = (
                f'OAuth oauth_consumer_key="{t.consumer[0]}", oauth_nonce="n{digits}{len(out)}", '
                f'oauth_signature="x", oauth_signature_method="HMAC-SHA1", '
                f'oauth_timestamp="{"1" * digits}", oauth_version="1.0"'
            )
            out.append(send(t.port, post(TOTALS, BODY, f"Authorization: {header}")))
        return out

    def record_types(t: Target) -> list[int]:
        lines = b"".join(
            json.dumps(
                {
                    "record": v,
                    "post_id": "1100000000000000001",
                    "type": "favorites",
                    "at": "2026-11-19T10:00:00Z",
                }
            ).encode()
            + b"\n"
            for v in (True, 0, 1.5, [], {})
        )
        return [
            send(
                t.port,
                post(
                    "/admin/ingest",
                    lines,
                    f"Authorization: Bearer {t.admin}",
                    "Idempotency-Key: types",
                ),
            )
        ]

    def big_bodies(t: Target) -> list[int]:
        out: list[int] = []
        body = b"{" * (args.body_mb * MIB)
        threads = [
            threading.Thread(target=lambda: out.append(send(t.port, post(TOTALS, body))))
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        header = "Authorization: OAuth " + "x" * (8 * MIB)
        out.append(send(t.port, post(TOTALS, BODY, header)))
        return out

    def idle_sockets(t: Target) -> list[int]:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # this client needs them too
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
        held = []
        for _ in range(args.idle):
            try:
                held.append(socket.create_connection(("127.0.0.1", t.port), timeout=5))
            except OSError:
                break
        time.sleep(args.idle_seconds)
        answered = [send(t.port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")]
        for sock in held:
            sock.close()
        return answered

    return {
        f"{args.gzip_mb} MB of empty gzip members, no credentials": gzip_members,
        f"{args.junk_mb} MB of bad lines to /admin/ingest": junk_batch,
        "10 long oauth_timestamp values": long_timestamps,
        "record fields true, 0, 1.5, [], {}": record_types,
        f"8 × {args.body_mb} MB bodies, one 8 MB header": big_bodies,
        f"{args.idle} idle sockets for {args.idle_seconds:g} s, then /health": idle_sockets,
    }


def run_case(command: str, case) -> Outcome:
    with tempfile.TemporaryDirectory(dir=common.data_dir()) as folder:
        target = Target(command, Path(folder))
        probe = subprocess.Popen(
            [sys.executable, str(PROBE), target.url + "/health", "0.5"],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.6)
        peak = [target.rss()]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak.append(target.rss())
                time.sleep(0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            statuses = case(target)
        finally:
            done.set()
            watcher.join()
            time.sleep(0.2)
            probe.terminate()
            lines = probe.communicate(timeout=60)[0].splitlines()
            target.stop()
        _, _, worst, _ = json.loads(lines[-1]) if lines else (0, 0, 0.0, 0.0)
        return Outcome(
            len(statuses),
            sum(500 <= s < 600 for s in statuses),
            sum(s == 0 for s in statuses),
            worst * 1000,
            max(peak),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="the engagement-api executable of another build")
    parser.add_argument("--gzip-mb", type=int, default=4)
    parser.add_argument("--junk-mb", type=int, default=20)
    parser.add_argument("--body-mb", type=int, default=50)
    parser.add_argument("--idle", type=int, default=1100)
    parser.add_argument("--idle-seconds", type=float, default=12)
    args = parser.parse_args(argv)
    builds = {"ours": common.engagement_api()[0]}
    if args.baseline:
        builds["baseline"] = args.baseline
    results: dict[tuple[str, str], Outcome] = {}
    for name, case in cases(args).items():
        for build, command in builds.items():
            log(f"{build}: {name}")
            results[name, build] = run_case(command, case)
    headers = ["case", "build", "requests", "5xx", "no answer", "worst /health ms", "peak RSS MiB"]
    rows = [
        [
            name if build == "ours" else "",
            build,
            o.requests,
            o.server_errors,
            o.no_answer,
            f"{o.worst_health_ms:,.0f}",
            f"{o.peak_rss / MIB:,.0f}",
        ]
        for (name, build), o in results.items()
    ]
    print("\n## Hostile run (one worker, SQLite; /health asked every 20 ms meanwhile)\n")
    print(common.markdown_table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
