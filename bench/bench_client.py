"""Client benchmark: totals for 100,000 posts with our client beside the sample clients'
approach, against one local server, in one run.

    python bench/bench_client.py [--ids 100000 --posts 102000 --events 2000000 --repeat 3]

The server is `engagement-api serve --workers 2 --control` on 127.0.0.1 (SQLite store, the
frozen clock of every benchmark), fed the simulated file once (cached under $BENCH_DATA). Both
clients ask the same ids (public posts of the file), the five public metrics by post and
type, with OAuth 1.0a app-only signatures (consumer key and secret, as the Python sample
client sends for posts it does not own), every request signed afresh:

- peer, the sample clients' approach: one request of 250 ids at a time, a new connection
  for each (`requests.post` with requests-oauthlib, as the Python sample client does;
  the Ruby client's Net::HTTP does the same), answers parsed and summed per post. Without
  the samples' fixed sleep before each request (1 s in the Python client), which would only
  measure the sleep.
- ours: `EngagementClient.totals(ids, ...)`, batches of 250 over `--concurrency` kept-alive
  connections, merged into one result.

Every side runs `--warmup` rounds unmeasured (the server's workers fill their memory of
rendered answers), then `--repeat` measured rounds, the sides taking turns; the table gives
the medians, and the CPU seconds of our process (the client) and of the server's processes
in each run. Every run must return the same figures as the peer's, or the benchmark fails.
Two tables: loopback as it is, then with every request held `--latency-ms` (20) on the
server before it is answered (the toolkit's `latency_ms` fault rule): a network's round trip
without a network, which costs the server no CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import Server, log

from engagement_api import spec

PUBLIC = [m.name for m in spec.METRICS if m.app_only_on_totals]
GOAL = 10.0
SAMPLE_SLEEP = 1.0  # seconds each sample client sleeps before a request
PATH = spec.TOTALS.path


def store_for(args) -> str:
    data = common.simulated(args.posts, args.events, args.seed)
    path = common.data_dir() / f"client-store-p{args.posts}-e{args.events}-s{args.seed}.db"
    done = path.with_suffix(".done")
    if not done.exists():
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        log(f"ingesting {data.name} into {path}")
        common.cli("ingest", "-q", str(data), store=f"sqlite:///{path}")
        done.write_text("ok\n")
    return f"sqlite:///{path}", data


def app_for(store: str) -> tuple[str, str]:
    app = json.loads(
        common.cli(
            "apps",
            "create",
            "--name",
            f"bench-client-{int(time.time())}",
            "--rate-limit",
            "100000000",
            store=store,
        )
    )
    return app["consumer_key"], app["consumer_secret"]


def peer(base: str, ids: list[str], key: str, secret: str) -> tuple[dict, int]:
    """One request at a time, each on a new connection, answers summed per post."""
    import requests
    from requests_oauthlib import OAuth1

    auth = OAuth1(key, secret)
    per_post: dict[str, dict[str, int]] = {}
    requests_sent = 0
    for at in range(0, len(ids), 250):
        body = {
            "tweet_ids": ids[at : at + 250],
            "engagement_types": PUBLIC,
            "groupings": {"by_post": {"group_by": ["tweet.id", "engagement.type"]}},
        }
        answer = requests.post(base + PATH, json=body, auth=auth, timeout=60)
        requests_sent += 1
        answer.raise_for_status()
        for tweet_id, metrics in answer.json()["by_post"].items():
            per_post[tweet_id] = {metric: int(count) for metric, count in metrics.items()}
    return per_post, requests_sent


def ours(base: str, ids: list[str], key: str, secret: str, concurrency: int) -> tuple[dict, int]:
    from engagement_api.client import EngagementClient

    with EngagementClient(base, key, secret, concurrency=concurrency) as client:
        result = client.totals(ids, PUBLIC)
    return result.data["by_post"], result.stats.requests


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def server_pids(server: Server) -> list[int]:
    children = subprocess.run(
        ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True
    ).stdout.split()
    return [server.process.pid, *map(int, children)]


@dataclass
class Run:
    seconds: float
    client_cpu: float
    server_cpu: float
    figures: dict
    requests: int


def timed(run, pids: list[int]) -> Run:
    mine, theirs = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(pids)
    started = time.perf_counter()
    figures, sent = run()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    client = after.ru_utime - mine.ru_utime + after.ru_stime - mine.ru_stime
    return Run(seconds, client, cpu_seconds(pids) - theirs, figures, sent)


def admin_token(store: str) -> str:
    return json.loads(common.cli("admin-token", "create", store=store))["admin_token"]


def set_latency(base: str, token: str, milliseconds: int) -> None:
    """Every /totals request waits this long on the server before it is answered (a fault
    rule of `serve --control`): a network's round trip, without the network."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    clear = urllib.request.Request(base + "/_control/faults", method="DELETE", headers=headers)
    urllib.request.urlopen(clear, timeout=10).close()
    if milliseconds:
        rule = {"latency_ms": milliseconds, "probability": 1, "endpoints": ["totals"]}
        add = urllib.request.Request(
            base + "/_control/faults", data=json.dumps(rule).encode(), headers=headers
        )
        urllib.request.urlopen(add, timeout=10).close()


def measure(args, runs: dict, pids: list[int]) -> dict[str, list[Run]]:
    """Warm-up rounds, then measured rounds, the sides taking turns; every run must answer
    the peer's figures."""
    results: dict[str, list[Run]] = {name: [] for name in runs}
    expected = None
    for round_ in range(-args.warmup + 1, args.repeat + 1):  # rounds up to 0 warm up
        for name, run in runs.items():
            measured = timed(run, pids)
            if expected is None:
                expected = measured.figures
            if measured.figures != expected:
                raise SystemExit(f"{name} answered other figures than the peer")
            if round_ > 0:
                results[name].append(measured)
            log(f"{name}: {measured.seconds:.2f} s" + ("" if round_ > 0 else " (warm-up)"))
    return results


def table(results: dict[str, list[Run]], posts: int, computed_sleep: bool) -> str:
    peer_s = statistics.median(r.seconds for r in results["peer"])
    rows = []
    for name, measured in results.items():
        seconds = statistics.median(r.seconds for r in measured)
        if name == "peer":
            what = "peer: one request at a time, a new connection each (no fixed sleep)"
        else:
            level = name.split("-")[1]
            what = f"ours: EngagementClient, {level} kept-alive connection" + "s" * (level != "1")
        ratio = peer_s / seconds
        rows.append(
            [
                what,
                f"{measured[0].requests:,}",
                f"{seconds:.2f}",
                f"{posts / seconds:,.0f}",
                f"{statistics.median(r.client_cpu for r in measured):.2f}",
                f"{statistics.median(r.server_cpu for r in measured):.2f}",
                common.fmt_ratio(ratio),
                "" if name == "peer" else f"≥ {GOAL:.0f}×: {common.verdict(ratio >= GOAL)}",
            ]
        )
    if computed_sleep:
        # The sample clients as shipped also sleep a fixed second before each request: not
        # run (it would measure the sleep), but their time follows from the peer's.
        requests = results["peer"][0].requests
        slept = peer_s + requests * SAMPLE_SLEEP
        best = min(
            statistics.median(r.seconds for r in m) for n, m in results.items() if n != "peer"
        )
        rows.append(
            [
                f"(computed) the sample clients as shipped: the peer plus their fixed "
                f"{SAMPLE_SLEEP:.0f} s sleep per request",
                f"{requests:,}",
                f"{slept:.0f}",
                f"{posts / slept:,.0f}",
                "–",
                "–",
                f"ours: {common.fmt_ratio(slept / best)}",
                "",
            ]
        )
    headers = [
        "client",
        "requests",
        "seconds",
        "posts/s",
        "client CPU s",
        "server CPU s",
        "speed-up",
        "goal",
    ]
    return common.markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=100_000, help="posts asked")
    parser.add_argument("--posts", type=int, default=102_000, help="posts simulated")
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--concurrency", default="1,8,16", help="our client's connections, one row each"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="unmeasured rounds first (the server's caches)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=20,
        help="the second table's round trip, added by the server to every request (0: none)",
    )
    args = parser.parse_args(argv)

    store, data = store_for(args)
    ids = [post.id for post in common.public_posts(data)][: args.ids]
    if len(ids) < args.ids:
        raise SystemExit(f"only {len(ids):,} public posts in {data.name}: raise --posts")
    key, secret = app_for(store)
    token = admin_token(store)
    port = common.free_port()
    command = [*common.serve_command(store, port, args.workers, "warning"), "--control"]
    levels = [int(c) for c in args.concurrency.split(",")]
    tables = []
    with Server("client-bench", command, port).wait_ready() as server:
        pids = server_pids(server)
        runs = {"peer": lambda: peer(server.base, ids, key, secret)}
        for level in levels:
            runs[f"ours-{level}"] = lambda level=level: ours(server.base, ids, key, secret, level)
        for latency in dict.fromkeys([0, args.latency_ms]):
            set_latency(server.base, token, latency)
            where = (
                "on loopback"
                if not latency
                else f"with a {latency} ms round trip (the server delays every request)"
            )
            log(f"-- {where}")
            results = measure(args, runs, pids)
            tables.append((where, table(results, len(ids), computed_sleep=not latency)))
        set_latency(server.base, token, 0)
    for where, text in tables:
        print(
            f"\n/totals for {len(ids):,} posts ({len(PUBLIC)} public metrics, OAuth 1.0a "
            f"app-only), `serve --workers {args.workers}` (SQLite) on the same "
            f"{os.cpu_count()} cores, {where}, median of {args.repeat}:\n"
        )
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
