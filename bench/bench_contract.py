"""What the contract layer costs per request: the request function answering /totals with each
contract backend, beside the same with the contract switched off, in one run.

    python bench/bench_contract.py [--requests 20000]

In-process (no HTTP: the HTTP cost is the same for every row), on a small SQLite store with
the answer remembered, bearer and OAuth 1.0a (consumer key only, so every request also spends a
nonce). Backends: off (a contract that admits everything and keeps nothing), memory (one
process), local (the LMDB file every worker of a host shares), redis (a real redis-server on
loopback). The last column proves the hot path writes nothing to the SQL store.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import NOW

from engagement_api import spec
from engagement_api.auth import SignedRequest, bearer
from engagement_api.clock import FrozenClock, SystemClock
from engagement_api.contract import Admission
from engagement_api.contract.local import LocalContract, MemoryContract
from engagement_api.contract.redis_backend import RedisContract
from engagement_api.engagement import EngagementRequest, Services, handle
from engagement_api.ingest import ingest_records
from engagement_api.store import open_store
from engagement_api.store.secrets import SecretBox
from engagement_api.times import parse_instant

URL = "http://bench.test/insights/engagement/totals"
BODY = (
    b'{"tweet_ids":["1100000000000000001"],"engagement_types":["favorites"],'
    b'"groupings":{"g":{"group_by":["tweet.id","engagement.type"]}}}'
)


class Off:
    """No contract: every request admitted, nothing counted, no nonce remembered."""

    def admit(self, app_id, limit, wall_now, nonce=None) -> Admission:
        return Admission(True, limit, limit, 60)

    def close(self) -> None:
        pass


def redis_server(folder: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found (apt-get install redis-server)")
    port = common.free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return process, f"redis://127.0.0.1:{port}/0"


def measure(services: Services, requests: list[EngagementRequest]) -> float:
    """µs per request, the best of three passes."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for request in requests:
            answer = handle(spec.TOTALS, request, services)
            assert answer.status == 200, answer.body
        best = min(best, (time.perf_counter() - started) / len(requests) * 1e6)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="per pass")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(dir=common.data_dir()))
    redis_process, redis_url = redis_server(folder)
    try:
        store = open_store(f"sqlite:///{folder}/store.db", SecretBox.from_file(folder / "key"))
        ingest_records(
            store,
            [
                {
                    "record": "post",
                    "id": "1100000000000000001",
                    "author_id": "1",
                    "handle": "a",
                    "created_at": "2026-11-19T00:00:00Z",
                },
                {
                    "record": "engagement",
                    "post_id": "1100000000000000001",
                    "type": "favorites",
                    "at": "2026-11-19T01:00:00Z",
                    "count": 3,
                },
            ],
            key="bench",
            now=parse_instant(NOW),
        )
        app = store.create_app("bench", "benchkey", "benchsecret", True, 10**9)
        token = bearer.issue(store, app, int(time.time()))
        backends = {
            "off": Off(),
            "memory": MemoryContract(),
            "local (LMDB)": LocalContract(str(folder / "contract.lmdb")),
            "redis": RedisContract(redis_url),
        }
        from oauthlib.oauth1 import Client

        client = Client("benchkey", client_secret="benchsecret")
        rows = []
        for auth in ("bearer", "oauth1"):
            for name, contract in backends.items():
                services = Services(store, contract, FrozenClock(parse_instant(NOW)), SystemClock())
                if auth == "bearer":
                    header = [f"Bearer {token}"] * args.requests
                else:
                    header = [
                        client.sign(URL, http_method="POST")[1]["Authorization"]
                        for _ in range(args.requests * 3)
                    ]
                requests = [
                    EngagementRequest(SignedRequest("POST", (URL,), "", h, BODY), lambda: BODY)
                    for h in header
                ]
                writes = store._writes
                if auth == "oauth1":  # a fresh nonce for every request of every pass
                    best = float("inf")
                    for start in range(0, len(requests), args.requests):
                        best = min(
                            best, measure_once(services, requests[start : start + args.requests])
                        )
                else:
                    best = measure(services, requests)
                rows.append([auth, name, f"{best:,.1f}", str(store._writes - writes)])
        off = {r[0]: float(r[2].replace(",", "")) for r in rows if r[1] == "off"}
        table = [
            [a, n, us, f"{float(us.replace(',', '')) - off[a]:+,.1f}", w] for a, n, us, w in rows
        ]
        print(
            f"\n## The contract layer per request (in-process, {args.requests:,} requests a pass)\n"
        )
        print(
            common.markdown_table(
                ["auth", "contract", "µs per request", "beside off", "SQL writes"], table
            )
        )
    finally:
        redis_process.terminate()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def measure_once(services: Services, requests: list[EngagementRequest]) -> float:
    started = time.perf_counter()
    for request in requests:
        answer = handle(spec.TOTALS, request, services)
        assert answer.status == 200, answer.body
    return (time.perf_counter() - started) / len(requests) * 1e6


if __name__ == "__main__":
    sys.exit(main())
