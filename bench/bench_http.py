"""HTTP benchmark: engagement-api (2 workers) beside the FLOOR and NAIVE peers, with wrk.

    python bench/bench_http.py [--posts 100000 --events 20000000 --duration 30]

Endpoints: /totals with 250 ids and a bearer token; /28hr and /historical with 25 ids of one
user and OAuth 1.0a user context. OAuth requests are signed in advance, one nonce each, right
before each wrk run, and a wrk Lua script sends each signed request once. Servers run one at
a time, each with 2 worker processes, on 127.0.0.1; wrk shares the same machine.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import math
import os
import random
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import NOW, PEERS_DIR, PYTHON, Postgres, Server, WrkResult, log

TOTALS_METRICS = ["favorites", "retweets", "quote_tweets", "replies", "video_views"]
SERIES_METRICS = ["impressions", "engagements", "favorites", "retweets", "replies", "video_views"]
PATHS = {
    "totals": "/insights/engagement/totals",
    "28hr": "/insights/engagement/28hr",
    "historical": "/insights/engagement/historical",
}
TARGETS = {"totals": (0.50, 50.0), "28hr": (0.40, None), "historical": (0.40, None)}
MIN_POOL = 2_000
PEER_POOL = 20_000  # the peers check no nonce: a pool this size is sent round and round


@dataclass
class Credentials:
    consumer_key: str
    consumer_secret: str
    token: str
    token_secret: str
    bearer: str = ""


@dataclass
class Plan:
    bodies: dict[str, bytes]  # endpoint -> request body
    endpoints: list[str]
    args: argparse.Namespace


# -- data and stores -----------------------------------------------------------------------
def choose_ids(data: Path, seed: int, history_days: int) -> tuple[list[str], str, list[str]]:
    """250 random public posts for /totals; one user's 25 latest public posts for the series."""
    posts = common.public_posts(data)
    rng = random.Random(seed)
    totals_ids = [p.id for p in rng.sample(posts, min(250, len(posts)))]
    by_handle: dict[str, list] = {}
    for post in posts:
        by_handle.setdefault(post.handle, []).append(post)
    handle = max(by_handle, key=lambda h: len(by_handle[h]))
    latest = sorted(by_handle[handle], key=lambda p: p.created_s, reverse=True)[:25]
    if len(latest) < 25:
        log(f"@{handle} has only {len(latest)} public posts: the series use {len(latest)} ids")
    return totals_ids, handle, [p.id for p in latest]


def request_bodies(totals_ids, series_ids, history_days: int) -> dict[str, bytes]:
    now = common_now()
    entity = {"group_by": ["tweet.id", "engagement.type"]}
    hourly = {"group_by": ["tweet.id", "engagement.type", "engagement.day", "engagement.hour"]}
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - history_days * 86400))
    return {
        "totals": json.dumps(
            {
                "tweet_ids": totals_ids,
                "engagement_types": TOTALS_METRICS,
                "groupings": {"by_tweet": entity},
            }
        ).encode(),
        "28hr": json.dumps(
            {
                "tweet_ids": series_ids,
                "engagement_types": SERIES_METRICS,
                "groupings": {"by_tweet": entity, "hourly": hourly},
            }
        ).encode(),
        "historical": json.dumps(
            {
                "tweet_ids": series_ids,
                "engagement_types": SERIES_METRICS,
                "start": start,
                "groupings": {"by_tweet": entity, "hourly": hourly},
            }
        ).encode(),
    }


def common_now() -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(NOW.replace("Z", "+00:00")).timestamp())


def key_of(args) -> str:
    return f"p{args.posts}-e{args.events}-s{args.seed}"


def sqlite_store(args, data: Path) -> str:
    """Our SQLite store for these sizes under BENCH_DATA: ingested anew unless --reuse-store.

    The store is rebuilt by default because the ingest code may have changed since.
    """
    path = common.data_dir() / f"store-{key_of(args)}.db"
    done = path.with_suffix(".done")
    if not (args.reuse_store and done.exists()):
        done.unlink(missing_ok=True)
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        log(f"ingesting {data.name} into {path}")
        common.cli("ingest", "-q", str(data), store=f"sqlite:///{path}")
        done.write_text("ok\n")
    return f"sqlite:///{path}"


def naive_db(args, data: Path) -> Path:
    path = common.data_dir() / f"naive-{key_of(args)}.db"
    if not path.exists():
        partial = path.with_suffix(".partial.db")
        partial.unlink(missing_ok=True)
        log(f"loading {data.name} into the naive peer's raw events table {path}")
        measured = common.run_measured(
            [
                PYTHON,
                str(PEERS_DIR / "naive.py"),
                "load",
                str(data),
                "--store",
                f"sqlite:///{partial}",
            ]
        )
        if measured.returncode != 0:
            raise RuntimeError(f"naive load failed:\n{measured.stderr}")
        partial.rename(path)
    return path


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
    basic = base64.b64encode(f"{creds.consumer_key}:{creds.consumer_secret}".encode()).decode()
    request = urllib.request.Request(
        base + "/oauth2/token",
        data=b"grant_type=client_credentials",
        method="POST",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["access_token"]


# -- requests ------------------------------------------------------------------------------
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


def auth_header(base: str, endpoint: str, creds: Credentials) -> str:
    if endpoint == "totals":
        return f"Bearer {creds.bearer}"
    return sign(base, endpoint, creds, 1)[0]


def post(base: str, endpoint: str, body: bytes, authorization: str) -> tuple[int, bytes, int]:
    """(status, decompressed body, size on the wire)."""
    request = urllib.request.Request(
        base + PATHS[endpoint],
        data=body,
        method="POST",
        headers={
            "Authorization": authorization,
            "Content-Type": "application/json",
            "Accept-Encoding": "gzip",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, raw, encoding = (
                answer.status,
                answer.read(),
                answer.headers.get("content-encoding"),
            )
    except urllib.error.HTTPError as error:
        status, raw, encoding = error.code, error.read(), error.headers.get("content-encoding")
    return status, gzip.decompress(raw) if encoding == "gzip" else raw, len(raw)


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def static_script(folder: Path, endpoint: str, body_path: Path, authorization: str) -> Path:
    script = folder / f"wrk-{endpoint}-static.lua"
    script.write_text(f"""
local f = io.open({_lua_string(str(body_path))}, "rb")
wrk.method = "POST"
wrk.path = {_lua_string(PATHS[endpoint])}
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept-Encoding"] = "gzip"
wrk.headers["Authorization"] = {_lua_string(authorization)}
""")
    return script


def pool_script(
    folder: Path, endpoint: str, body_path: Path, pool_path: Path, threads: int
) -> Path:
    """Each wrk thread takes every threads-th signed header and sends each once, in turn."""
    script = folder / f"wrk-{endpoint}-pool.lua"
    script.write_text(f"""
local threads, counter = {{}}, 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local requests, n, i = {{}}, 0, 0
wrapped = 0
function init(args)
  local f = io.open({_lua_string(str(body_path))}, "rb")
  local body = f:read("*a")
  f:close()
  local line = 0
  for authorization in io.lines({_lua_string(str(pool_path))}) do
    if line % {threads} == tid then
      requests[#requests + 1] = wrk.format("POST", {_lua_string(PATHS[endpoint])}, {{
        ["Authorization"] = authorization, ["Content-Type"] = "application/json",
        ["Accept-Encoding"] = "gzip"}}, body)
    end
    line = line + 1
  end
  n = #requests
end

function request()
  i = i + 1
  if i > n then
    i = 1
    wrapped = wrapped + 1
  end
  return requests[i]
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("wrapped") or 0)
  end
  io.write(string.format("POOL_WRAPPED %d\\n", total))
end
""")
    return script


def run_endpoint(
    server: Server, endpoint: str, plan: Plan, creds: Credentials, enforce_nonces: bool
) -> WrkResult:
    """Warm up, then measure one endpoint with wrk; OAuth pools are signed just before."""
    args = plan.args
    folder = common.data_dir() / "wrk"
    folder.mkdir(exist_ok=True)
    body_path = folder / f"body-{endpoint}.json"
    body_path.write_bytes(plan.bodies[endpoint])
    url = server.base + PATHS[endpoint]
    if endpoint == "totals":
        script = static_script(folder, endpoint, body_path, f"Bearer {creds.bearer}")
        if args.warmup:
            common.run_wrk(url, script, args.warmup, args.threads, args.connections)
        return common.run_wrk(url, script, args.duration, args.threads, args.connections)

    pool_path = folder / f"pool-{endpoint}.txt"

    def signed_run(seconds: float, size: int) -> tuple[WrkResult, int]:
        started = time.perf_counter()
        pool_path.write_text("\n".join(sign(server.base, endpoint, creds, size)) + "\n")
        signing = time.perf_counter() - started
        if signing + seconds > 240:
            log(f"warning: signing took {signing:.0f} s; signatures expire 300 s after signing")
        script = pool_script(folder, endpoint, body_path, pool_path, args.threads)
        result = common.run_wrk(url, script, seconds, args.threads, args.connections)
        wrapped = int(result.output.split("POOL_WRAPPED", 1)[1].split()[0])
        return result, wrapped

    if not enforce_nonces:  # a peer: any pool will do
        if args.warmup:
            signed_run(args.warmup, PEER_POOL)
        return signed_run(args.duration, PEER_POOL)[0]
    rate = args.expected_rate
    if args.warmup:  # the warm-up also measures the rate, to size the real pool
        size = max(MIN_POOL, math.ceil(args.warmup * args.expected_rate))
        warm, wrapped = signed_run(args.warmup, size)
        rate = warm.rps * (2 if wrapped else 1)
    size = args.pool or max(MIN_POOL, math.ceil(rate * args.duration * 1.5) + args.connections)
    log(f"  {endpoint}: signing {size:,} requests for a {args.duration:g} s run")
    result, wrapped = signed_run(args.duration, size)
    if wrapped:
        log(
            f"  {endpoint}: the pool of {size:,} ran out ({wrapped} reuses, answered 401): "
            "raise --pool"
        )
    return result


# -- the run --------------------------------------------------------------------------------
def capture(server: Server, plan: Plan, creds: Credentials) -> dict[str, tuple[bytes, int]]:
    """Our answer to each endpoint's request (all three: the floor serves them)."""
    answers = {}
    for endpoint in PATHS:
        status, body, wire = post(
            server.base, endpoint, plan.bodies[endpoint], auth_header(server.base, endpoint, creds)
        )
        if status != 200:
            raise RuntimeError(f"{server.name} {endpoint}: HTTP {status}: {body[:500]!r}")
        answers[endpoint] = body, wire
    return answers


def measure(
    server: Server, plan: Plan, creds: Credentials, enforce_nonces: bool
) -> dict[str, WrkResult]:
    results = {}
    for endpoint in plan.endpoints:
        log(f"{server.name}: {endpoint}")
        results[endpoint] = run_endpoint(server, endpoint, plan, creds, enforce_nonces)
        if results[endpoint].failures:
            log(
                f"  {server.name} {endpoint}: {results[endpoint].non_2xx} non-2xx answers, "
                f"{results[endpoint].socket_errors} socket errors"
            )
    return results


def ours_server(store: str, args) -> Server:
    port = common.free_port()
    return Server(
        f"ours-{'pg' if store.startswith('postgres') else 'sqlite'}",
        common.serve_command(store, port, args.workers, args.ours_log_level),
        port,
    ).wait_ready()


def run(args) -> int:
    common.ensure_wrk()
    data = common.simulated(args.posts, args.events, args.seed)
    totals_ids, handle, series_ids = choose_ids(data, args.seed, args.history_days)
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    plan = Plan(request_bodies(totals_ids, series_ids, args.history_days), endpoints, args)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    results: dict[str, dict[str, WrkResult]] = {}
    sizes: dict[str, int] = {}
    ours_answers: dict[str, bytes] = {}
    floor_dir = common.data_dir() / "floor-bodies"
    floor_dir.mkdir(exist_ok=True)
    naive_path = naive_db(args, data) if not args.skip_naive else None
    postgres = None
    try:
        for engine in engines:
            if engine == "sqlite":
                store = sqlite_store(args, data)
            else:
                postgres = Postgres()
                store = postgres.fresh_database("bench")
                log("ingesting into PostgreSQL")
                common.cli("ingest", "-q", str(data), store=store)
            creds = credentials(store, handle)
            with ours_server(store, args) as server:
                creds.bearer = fetch_bearer(server.base, creds)
                answers = capture(server, plan, creds)
                if not ours_answers:
                    for endpoint, (body, wire) in answers.items():
                        ours_answers[endpoint] = body
                        sizes[endpoint] = wire
                        (floor_dir / f"{endpoint}.json").write_bytes(body)
                results[f"ours-{engine}"] = measure(server, plan, creds, True)
            if postgres:
                postgres.stop()
                postgres = None
    finally:
        if postgres:
            postgres.stop()
    port = common.free_port()
    with Server(
        "floor",
        [
            PYTHON,
            str(PEERS_DIR / "floor.py"),
            "--bodies",
            str(floor_dir),
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        port,
    ).wait_ready() as floor:
        results["floor"] = measure(floor, plan, creds, False)

    matches: dict[str, bool] = {}
    if naive_path:
        port = common.free_port()
        with Server(
            "naive",
            [
                PYTHON,
                str(PEERS_DIR / "naive.py"),
                "serve",
                "--db",
                str(naive_path),
                "--now",
                NOW,
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            port,
        ).wait_ready() as naive:
            for endpoint in PATHS:
                status, body, _ = post(naive.base, endpoint, plan.bodies[endpoint], "none")
                matches[endpoint] = status == 200 and json.loads(body) == json.loads(
                    ours_answers[endpoint]
                )
            results["naive"] = measure(naive, plan, creds, False)

    report(args, engines, endpoints, results, sizes, matches, handle)
    return 0


def report(args, engines, endpoints, results, sizes, matches, handle) -> None:
    floor, naive = results.get("floor", {}), results.get("naive", {})
    print(
        f"\n## HTTP: {args.posts:,} posts, {args.events:,} events; wrk {args.duration:g} s, "
        f"{args.threads} threads, {args.connections} connections; {args.workers} workers "
        f"each; {os.cpu_count()} cores\n"
    )
    print(
        f"/totals: 250 random public posts, bearer, {', '.join(TOTALS_METRICS)}. "
        f"/28hr and /historical ({args.history_days} days): @{handle}'s 25 latest posts, "
        f"OAuth 1.0a, {', '.join(SERIES_METRICS)}, grouped by post and type and by "
        "post, type, day and hour. Answers gzip level 1.\n"
    )
    headers = [
        "endpoint",
        "store",
        "figure",
        "ours",
        "floor",
        "ours/floor",
        "naive",
        "ours/naive",
        "target",
        "verdict",
    ]
    rows = []
    for engine in engines:
        ours = results[f"ours-{engine}"]
        for endpoint in endpoints:
            mine, f, n = ours[endpoint], floor.get(endpoint), naive.get(endpoint)
            floor_target, naive_target = TARGETS[endpoint]
            r_floor = common.ratio(mine.rps, f.rps if f else None)
            r_naive = common.ratio(mine.rps, n.rps if n else None)
            target = f"≥ {floor_target:.0%} of floor" + (
                f", ≥ {naive_target:.0f}× naive" if naive_target else ""
            )
            ok = None
            if r_floor is not None:
                ok = r_floor >= floor_target and (
                    not naive_target or r_naive is None or r_naive >= naive_target
                )
            label = f"/{endpoint} ({_size(sizes.get(endpoint))})"
            rows.append(
                [
                    label,
                    engine,
                    "req/s",
                    common.fmt_number(mine.rps),
                    common.fmt_number(f.rps) if f else "–",
                    common.fmt_ratio(r_floor),
                    common.fmt_number(n.rps) if n else "–",
                    common.fmt_ratio(r_naive),
                    target,
                    common.verdict(ok),
                ]
            )
            for figure, attribute in (("p50 ms", "p50_ms"), ("p99 ms", "p99_ms")):
                ours_ms = getattr(mine, attribute)
                floor_ms = getattr(f, attribute) if f else None
                naive_ms = getattr(n, attribute) if n else None
                rows.append(
                    [
                        "",
                        "",
                        figure,
                        common.fmt_ms(ours_ms),
                        common.fmt_ms(floor_ms),
                        common.fmt_ratio(common.ratio(ours_ms, floor_ms)),
                        common.fmt_ms(naive_ms),
                        common.fmt_ratio(common.ratio(ours_ms, naive_ms)),
                        "",
                        "",
                    ]
                )
            if mine.failures:
                rows.append(
                    [
                        "",
                        "",
                        "errors",
                        f"{mine.non_2xx} non-2xx, {mine.socket_errors} socket",
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
        "\nRatios are ours ÷ peer: above 1 is better for req/s, below 1 for latency. "
        "Sizes are our gzip answers."
    )
    if matches:
        said = ", ".join(f"/{e} {'same' if ok else 'DIFFERENT'}" for e, ok in matches.items())
        print(f"Naive answers compared with ours (parsed JSON): {said}.")


def _size(wire: int | None) -> str:
    if not wire:
        return "–"
    return f"{wire / 1024:,.1f} KiB gz" if wire < 2**20 else f"{wire / 2**20:,.1f} MiB gz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_load_options(
        parser,
        warmup_help="seconds of warm-up (0: none)",
        log_help="serve --log-level for ours (info adds an access log line each)",
        reuse_help="reuse our SQLite store from an earlier run (else ingest anew)",
    )
    parser.add_argument("--endpoints", default="totals,28hr,historical")
    parser.add_argument(
        "--history-days",
        type=int,
        default=7,
        help="/historical window: start this many days before now (max 28)",
    )
    parser.add_argument(
        "--expected-rate",
        type=float,
        default=3000,
        help="req/s assumed to size the warm-up's signed pool",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=0,
        help="signed requests per OAuth run (0: sized from the warm-up)",
    )
    parser.add_argument("--skip-naive", action="store_true", help="no naive peer")
    args = parser.parse_args(argv)
    if not 1 <= args.history_days <= 28:
        parser.error("--history-days must be 1..28")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
