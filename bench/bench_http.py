"""HTTP benchmark of the read path: engagement-api beside the FLOOR peer, with wrk, in one run.

    python bench/bench_http.py [--posts 100000 --events 20000000 --duration 10]
        [--engine postgresql [--replica]]

Both servers run on uvicorn (httptools, uvloop) with the same worker count, one at a time, on
127.0.0.1; wrk shares the machine. Every scenario runs
with gzip on (`Accept-Encoding: gzip`) and off. Scenarios:

- totals-bearer: 250 random public posts, the five public metrics, by post and type, bearer.
- totals-oauth: 250 random public posts of the user with the most posts, the same metrics,
  OAuth 1.0a user context (every request signed with a fresh nonce, sent once).
- 28hr: that user's 25 latest public posts, all 17 metrics, hourly (post, type, day, hour).
- historical: the same 25 posts and 17 metrics by day (post, type, day) over 4 weeks.
- totals-random cold / warm: every request a different body of 250 ids drawn at random from
  all public posts (a pool of --random-bodies bodies, bearer): right after our server starts
  (its memory empty), then again.

The floor answers every request with our own answer to that scenario's first request,
captured once, gzipped per request as ours is: the best any Python server can do with these
answers here.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import NOW, PEERS_DIR, PYTHON, Server, WrkResult, log

from engagement_api import spec

PUBLIC = [m.name for m in spec.METRICS if m.app_only_on_totals]
ALL_SERIES = [m.name for m in spec.METRICS if m.on_timeseries]
PATHS = {e.name: e.path for e in spec.ENDPOINTS}
MIN_POOL = 2_000
PEER_POOL = 20_000  # the floor checks no nonce: a pool this size is sent round and round


@dataclass
class Scenario:
    name: str
    endpoint: str
    auth: str  # "bearer" or "oauth1"
    bodies: list[bytes]  # one, or the pool of a random scenario
    target: float | None  # ours / floor, req/s
    p99_target: float | None = None  # ours / floor, p99
    cold: bool = False
    size: int = 0  # bytes of the uncompressed answer
    results: dict = field(default_factory=dict)  # (server, gzip) -> WrkResult


@dataclass
class Credentials:
    consumer_key: str
    consumer_secret: str
    token: str
    token_secret: str
    bearer: str = ""


# -- data -------------------------------------------------------------------------------------
def scenarios(data: Path, args) -> tuple[list[Scenario], str]:
    posts = common.public_posts(data)
    rng = random.Random(args.seed)
    by_author: dict[str, list] = {}
    for post in posts:
        by_author.setdefault(post.handle, []).append(post)
    handle = max(by_author, key=lambda h: len(by_author[h]))
    own = by_author[handle]
    latest = [p.id for p in sorted(own, key=lambda p: p.created_s, reverse=True)[:25]]
    entity = {"group_by": ["tweet.id", "engagement.type"]}
    hourly = {"group_by": ["tweet.id", "engagement.type", "engagement.day", "engagement.hour"]}
    daily = {"group_by": ["tweet.id", "engagement.type", "engagement.day"]}
    now = common_now()
    start = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(now // 3600 * 3600 + 3600 - 28 * 86400))

    def body(ids, metrics, grouping, **extra) -> bytes:
        document = {"tweet_ids": ids, "engagement_types": metrics, "groupings": {"g": grouping}}
        return json.dumps({**document, **extra}).encode()

    random_pool = [
        body([p.id for p in rng.sample(posts, 250)], PUBLIC, entity)
        for _ in range(args.random_bodies)
    ]
    found = [
        Scenario(
            "totals-bearer",
            "totals",
            "bearer",
            [body([p.id for p in rng.sample(posts, 250)], PUBLIC, entity)],
            0.25,
            5.0,
        ),
        Scenario(
            "totals-oauth",
            "totals",
            "oauth1",
            [body([p.id for p in rng.sample(own, min(250, len(own)))], PUBLIC, entity)],
            0.25,
            5.0,
        ),
        Scenario("28hr", "28hr", "oauth1", [body(latest, ALL_SERIES, hourly)], 0.15),
        Scenario(
            "historical",
            "historical",
            "oauth1",
            [body(latest, ALL_SERIES, daily, start=start)],
            0.15,
        ),
        Scenario("totals-random cold", "totals", "bearer", random_pool, None, cold=True),
        Scenario("totals-random warm", "totals", "bearer", random_pool, None),
    ]
    wanted = {s.strip() for s in args.scenarios.split(",")} if args.scenarios else None
    return [s for s in found if wanted is None or s.name.split()[0] in wanted], handle


def common_now() -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(NOW.replace("Z", "+00:00")).timestamp())


def sqlite_store(args, data: Path) -> str:
    path = common.data_dir() / f"store-p{args.posts}-e{args.events}-s{args.seed}.db"
    done = path.with_suffix(".done")
    if not (args.reuse_store and done.exists()):
        done.unlink(missing_ok=True)
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        log(f"ingesting {data.name} into {path}")
        common.cli("ingest", "-q", str(data), store=f"sqlite:///{path}")
        done.write_text("ok\n")
    return f"sqlite:///{path}"


def postgres_store(args, data: Path, cluster: common.Postgres) -> str:
    """The simulated data in a fresh database of `cluster`, and what it takes on disk."""
    url = cluster.fresh_database("bench")
    log(f"ingesting {data.name} into PostgreSQL")
    started = time.perf_counter()
    common.cli("ingest", "-q", str(data), store=url)
    log(f"ingested {args.events:,} events in {time.perf_counter() - started:.0f} s")
    print_footprint(url)
    return url


def print_footprint(url: str) -> None:
    """Bytes per row of the tables that grow with posts and event-hours (indexes included)."""
    import psycopg

    rows = []
    with psycopg.connect(url) as connection:
        for table in ("posts", "post_totals", "post_hourly"):
            count, size = connection.execute(
                f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}"
            ).fetchone()
            rows.append([table, f"{count:,}", common.fmt_bytes(size), f"{size / count:.0f}"])
    print("\n## PostgreSQL footprint of the simulated data\n")
    print(common.markdown_table(["table", "rows", "bytes", "bytes per row"], rows))


def credentials(store: str, handle: str) -> Credentials:
    app = json.loads(
        common.cli(
            "apps",
            "create",
            "--name",
            f"bench-{int(time.time())}",
            "--rate-limit",
            "100000000",
            store=store,
        )
    )
    token = json.loads(
        common.cli("tokens", "create", "--app", app["app_id"], "--handle", handle, store=store)
    )
    return Credentials(
        app["consumer_key"],
        app["consumer_secret"],
        token["access_token"],
        token["access_token_secret"],
    )


def fetch_bearer(base: str, creds: Credentials) -> str:
    import base64

    basic = base64.b64encode(f"{creds.consumer_key}:{creds.consumer_secret}".encode()).decode()
    request = urllib.request.Request(
        base + "/oauth2/token",
        data=b"grant_type=client_credentials",
        method="POST",
        headers={"Authorization": f"Basic {basic}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["access_token"]


def sign(base: str, endpoint: str, creds: Credentials, count: int) -> list[str]:
    from oauthlib.oauth1 import Client

    client = Client(
        creds.consumer_key,
        client_secret=creds.consumer_secret,
        resource_owner_key=creds.token,
        resource_owner_secret=creds.token_secret,
    )
    url = base + PATHS[endpoint]
    return [client.sign(url, http_method="POST")[1]["Authorization"] for _ in range(count)]


def post(base: str, scenario: Scenario, creds: Credentials) -> tuple[int, bytes]:
    if scenario.auth == "bearer":
        authorization = f"Bearer {creds.bearer}"
    else:
        authorization = sign(base, scenario.endpoint, creds, 1)[0]
    request = urllib.request.Request(
        base + PATHS[scenario.endpoint],
        data=scenario.bodies[0],
        method="POST",
        headers={"Authorization": authorization, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# -- wrk scripts ------------------------------------------------------------------------------
def _lua(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def wrk_script(
    folder: Path,
    scenario: Scenario,
    gzip: bool,
    authorization: str | None,
    pool: Path | None,
    threads: int,
) -> Path:
    """Bodies from a file (one per line), each thread starting at its own place; a static
    Authorization, or each thread taking every threads-th signed header of a pool once."""
    slug = scenario.name.replace(" ", "-")
    bodies = folder / f"bodies-{slug}.txt"
    bodies.write_bytes(b"\n".join(scenario.bodies) + b"\n")
    script = folder / f"wrk-{slug}-{'gz' if gzip else 'id'}.lua"
    accept = '["Accept-Encoding"] = "gzip", ' if gzip else ""
    script.write_text(f"""
local threads, counter = {{}}, 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
local bodies, auths, nb, na, ib, ia = {{}}, {{}}, 0, 0, 0, 0
wrapped = 0
function init(args)
  for line in io.lines({_lua(str(bodies))}) do bodies[#bodies + 1] = line end
  nb = #bodies
  ib = (tid * 7919) % nb
  local pool = {_lua(str(pool)) if pool else "nil"}
  if pool then
    local n = 0
    for line in io.lines(pool) do
      if n % {threads} == tid then auths[#auths + 1] = line end
      n = n + 1
    end
  end
  na = #auths
end
function request()
  ib = ib % nb + 1
  local authorization = {_lua(authorization) if authorization else "nil"}
  if na > 0 then
    ia = ia + 1
    if ia > na then ia = 1; wrapped = wrapped + 1 end
    authorization = auths[ia]
  end
  return wrk.format("POST", {_lua(PATHS[scenario.endpoint])}, {{{accept}
    ["Content-Type"] = "application/json", ["Authorization"] = authorization,
    ["x-bench-answer"] = {_lua(slug)}}}, bodies[ib])
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + (thread:get("wrapped") or 0) end
  io.write(string.format("POOL_WRAPPED %d\\n", total))
end
""")
    return script


def run_scenario(
    server: Server, scenario: Scenario, gzip: bool, creds: Credentials, args, enforce_nonces: bool
) -> WrkResult:
    folder = common.data_dir() / "wrk"
    folder.mkdir(exist_ok=True)
    url = server.base + PATHS[scenario.endpoint]

    def once(seconds: float, size: int) -> tuple[WrkResult, int]:
        pool = None
        authorization = f"Bearer {creds.bearer}"
        if scenario.auth == "oauth1":
            pool = folder / f"pool-{scenario.endpoint}.txt"
            started = time.perf_counter()
            pool.write_text("\n".join(sign(server.base, scenario.endpoint, creds, size)) + "\n")
            if time.perf_counter() - started + seconds > 240:
                log("warning: signatures expire 300 s after signing; shorten the run")
            authorization = None
        script = wrk_script(folder, scenario, gzip, authorization, pool, args.threads)
        result = common.run_wrk(url, script, seconds, args.threads, args.connections)
        return result, int(result.output.split("POOL_WRAPPED", 1)[1].split()[0])

    rate = args.expected_rate
    if args.warmup and not scenario.cold:
        size = PEER_POOL if not enforce_nonces else max(MIN_POOL, math.ceil(args.warmup * rate))
        warm, wrapped = once(args.warmup, size)
        rate = warm.rps * (2 if wrapped else 1)
    size = (
        PEER_POOL
        if not enforce_nonces
        else max(MIN_POOL, math.ceil(rate * args.duration * 1.5) + args.connections)
    )
    result, wrapped = once(args.duration, size)
    if wrapped and enforce_nonces and scenario.auth == "oauth1":
        log(
            f"  {scenario.name}: the pool of {size:,} ran out (answered 401): raise --expected-rate"
        )
    if result.failures:
        log(
            f"  {server.name} {scenario.name}: {result.non_2xx} non-2xx, "
            f"{result.socket_errors} socket errors"
        )
    return result


# -- servers ------------------------------------------------------------------------------
def ours(store: str, args) -> Server:
    port = common.free_port()
    options = ("--read-store", args.read_store) if args.read_store else ()
    command = common.serve_command(store, port, args.workers, "warning", options)
    return Server("ours", command, port).wait_ready()


def floor(folder: Path, args) -> Server:
    port = common.free_port()
    command = [
        PYTHON,
        str(PEERS_DIR / "floor.py"),
        "--bodies",
        str(folder),
        "--port",
        str(port),
        "--workers",
        str(args.workers),
    ]
    return Server("floor", command, port).wait_ready()


def run(args) -> int:
    common.ensure_wrk()
    data = common.simulated(args.posts, args.events, args.seed)
    args.read_store = None
    if args.engine == "sqlite":
        return measure(args, data, sqlite_store(args, data))
    with common.Postgres() as cluster:
        store = postgres_store(args, data, cluster)
        if not args.replica:
            return measure(args, data, store)
        with common.Postgres(replica_of=cluster) as replica:
            args.read_store = replica.url("bench")
            return measure(args, data, store)


def measure(args, data: Path, store: str) -> int:
    plan, handle = scenarios(data, args)
    creds = credentials(store, handle)
    floor_dir = common.data_dir() / "floor-answers"
    floor_dir.mkdir(exist_ok=True)
    for stale in floor_dir.glob("*.json"):
        stale.unlink()

    for gzip in (True, False):  # cold scenarios each on a server just started: memory empty
        for scenario in [s for s in plan if s.cold]:
            with ours(store, args) as server:
                creds.bearer = fetch_bearer(server.base, creds)
                log(f"ours: {scenario.name}, gzip {'on' if gzip else 'off'}")
                scenario.results["ours", gzip] = run_scenario(
                    server, scenario, gzip, creds, args, True
                )
    with ours(store, args) as server:
        creds.bearer = fetch_bearer(server.base, creds)
        for scenario in plan:
            status, answer = post(server.base, scenario, creds)
            if status != 200:
                raise RuntimeError(f"{scenario.name}: HTTP {status}: {answer[:300]!r}")
            (floor_dir / f"{scenario.name.replace(' ', '-')}.json").write_bytes(answer)
            scenario.size = len(answer)
        for scenario in [s for s in plan if not s.cold]:
            for gzip in (True, False):
                log(f"ours: {scenario.name}, gzip {'on' if gzip else 'off'}")
                scenario.results["ours", gzip] = run_scenario(
                    server, scenario, gzip, creds, args, True
                )
    with floor(floor_dir, args) as peer:
        for scenario in plan:
            for gzip in (True, False):
                log(f"floor: {scenario.name}, gzip {'on' if gzip else 'off'}")
                scenario.results["floor", gzip] = run_scenario(
                    peer, scenario, gzip, creds, args, False
                )
    report(args, plan, handle)
    return 0


def report(args, plan: list[Scenario], handle: str) -> None:
    store = args.engine + (" reading from a streaming replica" if args.read_store else "")
    print(
        f"\n## Read path ({store}): {args.posts:,} posts, {args.events:,} events; uvicorn, "
        f"{args.workers} workers each; wrk {args.duration:g} s, {args.threads} threads, "
        f"{args.connections} connections; {os.cpu_count()} cores\n"
    )
    headers = [
        "scenario",
        "answer",
        "gzip",
        "ours req/s",
        "floor req/s",
        "ours/floor",
        "target",
        "verdict",
        "ours p99 ms",
        "floor p99 ms",
        "p99 ratio",
        "p99 target",
    ]
    rows = []
    for scenario in plan:
        for gzip in (True, False):
            mine, peer = scenario.results["ours", gzip], scenario.results["floor", gzip]
            r = common.ratio(mine.rps, peer.rps)
            p99 = common.ratio(mine.p99_ms, peer.p99_ms)
            ok = None if scenario.target is None or r is None else r >= scenario.target
            if ok is not None and scenario.p99_target is not None and p99 is not None:
                ok = ok and p99 <= scenario.p99_target
            rows.append(
                [
                    scenario.name,
                    f"{scenario.size / 1024:,.0f} KiB",
                    "on" if gzip else "off",
                    common.fmt_number(mine.rps),
                    common.fmt_number(peer.rps),
                    common.fmt_ratio(r),
                    f"≥ {scenario.target:.2f}" if scenario.target else "–",
                    common.verdict(ok),
                    common.fmt_ms(mine.p99_ms),
                    common.fmt_ms(peer.p99_ms),
                    common.fmt_ratio(p99),
                    f"≤ {scenario.p99_target:g}×" if scenario.p99_target else "–",
                ]
            )
            if mine.failures:
                rows.append(
                    [
                        "",
                        "",
                        "",
                        f"errors: {mine.non_2xx} non-2xx, {mine.socket_errors} socket",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                    ]
                )
    print(common.markdown_table(headers, rows))
    print(
        f"\nAnswer sizes are uncompressed JSON. OAuth scenarios: @{handle}'s posts. The verdict "
        "needs the req/s target and, where given, the p99 target."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up (0: none)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--scenarios", default="", help="comma-separated names (default: all)")
    parser.add_argument("--random-bodies", type=int, default=2000, help="bodies of totals-random")
    parser.add_argument("--expected-rate", type=float, default=6000, help="req/s to size pools")
    parser.add_argument("--reuse-store", action="store_true", help="reuse the last SQLite store")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--replica",
        action="store_true",
        help="postgresql: serve the reads from a streaming replica (--read-store)",
    )
    args = parser.parse_args(argv)
    if args.replica and args.engine != "postgresql":
        parser.error("--replica needs --engine postgresql")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
