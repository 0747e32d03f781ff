"""Live ingest benchmark: /totals answered while batches stream into POST /admin/ingest.

    python bench/bench_live.py [--posts 100000 --events 20000000 --duration 30]
                               [--engine sqlite|postgresql|both] [--batch-events 10000]
                               [--feeders 1]

Our server (2 workers, 127.0.0.1) on a store ingested from the simulated file. wrk drives
/totals (250 ids, bearer) twice for --duration seconds: idle, then loaded, while feeder
processes POST gzip NDJSON batches to /admin/ingest back to back. The batches are generated
before the clock starts. Afterwards the totals of every post the feeders touched must have
grown by exactly the events the server accepted.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import multiprocessing as mp
import os
import queue
import random
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import NOW, Postgres, Server, WrkResult, log

TOTALS_PATH = "/insights/engagement/totals"
INGEST_PATH = "/admin/ingest"
TOTALS_METRICS = ["favorites", "retweets", "quote_tweets", "replies", "video_views"]
# The live events: /totals metrics whose count is the post's own (video views are summed
# over every post showing the same video, so they would blur the store check).
LIVE_TYPES = ["favorites", "retweets", "quote_tweets", "replies"]
P99_TARGET = 3.0  # loaded p99 / idle p99
BATCH_TIMEOUT = 120.0  # seconds a feeder waits for one batch's answer


def now_s() -> int:
    return int(datetime.fromisoformat(NOW.replace("Z", "+00:00")).timestamp())


# -- data and stores -----------------------------------------------------------------------
def choose_posts(data: Path, args) -> tuple[list[str], list[str]]:
    """250 random public posts for /totals (the draw of bench_http.py), and the posts the
    live events go to: those of the 250 created before the event window, then others."""
    posts = common.public_posts(data)
    rng = random.Random(args.seed)
    query = rng.sample(posts, min(250, len(posts)))
    start = now_s() - args.window
    eligible = [p for p in posts if p.created_s <= start]
    if not eligible:
        raise SystemExit(f"no public post was created before {args.window} s before {NOW}")
    chosen = [p.id for p in query if p.created_s <= start][: args.ingest_posts]
    taken = set(chosen)
    others = [p.id for p in eligible if p.id not in taken]
    rng.shuffle(others)
    chosen += others[: max(0, args.ingest_posts - len(chosen))]
    return [p.id for p in query], chosen


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def sqlite_store(args, data: Path) -> str:
    """A SQLite store of its own (the live run writes to it), ingested anew by default."""
    path = common.data_dir() / f"live-store-p{args.posts}-e{args.events}-s{args.seed}.db"
    done = path.with_suffix(".done")
    if not (args.reuse_store and done.exists()):
        done.unlink(missing_ok=True)
        remove_sqlite(path)
        log(f"ingesting {data.name} into {path}")
        common.cli("ingest", "-q", str(data), store=f"sqlite:///{path}")
        done.write_text("ok\n")
    return f"sqlite:///{path}"


def admin_token(store: str) -> str:
    return json.loads(common.cli("admin-token", "create", store=store))["admin_token"]


def bearer(store: str, base: str) -> str:
    app = json.loads(
        common.cli(
            "apps",
            "create",
            "--name",
            f"bench-live-{int(time.time())}",
            "--rate-limit",
            "100000000",
            store=store,
        )
    )
    basic = base64.b64encode(f"{app['consumer_key']}:{app['consumer_secret']}".encode())
    request = urllib.request.Request(
        base + "/oauth2/token",
        data=b"grant_type=client_credentials",
        method="POST",
        headers={
            "Authorization": "Basic " + basic.decode(),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["access_token"]


def totals_body(ids: list[str], metrics: list[str]) -> bytes:
    return json.dumps(
        {
            "tweet_ids": ids,
            "engagement_types": metrics,
            "groupings": {"by_tweet": {"group_by": ["tweet.id", "engagement.type"]}},
        }
    ).encode()


def read_totals(base: str, token: str, ids: list[str]) -> Counter:
    """{(post id, type): count} of LIVE_TYPES, 250 ids per request."""
    counts: Counter = Counter()
    for i in range(0, len(ids), 250):
        chunk = ids[i : i + 250]
        request = urllib.request.Request(
            base + TOTALS_PATH,
            data=totals_body(chunk, LIVE_TYPES),
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                found = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"/totals: HTTP {error.code}: {error.read()[:500]!r}") from None
        for post, metrics in found.get("by_tweet", {}).items():
            for metric, value in metrics.items():
                counts[post, metric] += int(value)
    return counts


# -- batches and feeders -------------------------------------------------------------------
@dataclass
class Body:
    gz: bytes
    events: int
    counts: Counter  # (post id, type) -> events


def make_bodies(targets: list[str], n: int, size: int, window: int, seed: int) -> list[Body]:
    """n distinct gzip NDJSON batches of `size` events (count 1 each) on the target posts,
    at instants in the `window` seconds before NOW."""
    rng = random.Random(seed)
    end = now_s()
    instants = [
        datetime.fromtimestamp(end - s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for s in range(1, window + 1)
    ]
    bodies = []
    for _ in range(n):
        counts: Counter = Counter()
        lines = []
        for _ in range(size):
            post, kind = rng.choice(targets), rng.choice(LIVE_TYPES)
            counts[post, kind] += 1
            lines.append(
                f'{{"record":"engagement","post_id":"{post}","type":"{kind}",'
                f'"at":"{rng.choice(instants)}","count":1}}\n'
            )
        bodies.append(Body(gzip.compress("".join(lines).encode(), 6), size, counts))
    return bodies


def post_batch(
    connection: http.client.HTTPConnection, token: str, key: str, gz: bytes
) -> tuple[int, bytes]:
    connection.request(
        "POST",
        INGEST_PATH,
        body=gz,
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": key,
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
        },
    )
    answer = connection.getresponse()
    return answer.status, answer.read()


@dataclass
class FeedResult:
    feeder: int
    sent: int = 0
    ok: int = 0
    failed: int = 0
    events: int = 0
    ended: float = 0.0  # time.monotonic() of the last answer (system-wide clock)
    latencies: list[float] = field(default_factory=list)  # seconds per accepted batch
    errors: list[str] = field(default_factory=list)  # the first few
    counts: Counter = field(default_factory=Counter)  # accepted (post id, type) -> events
    body_bytes: int = 0


def feeder_main(
    feeder: int,
    port: int,
    token: str,
    targets: list[str],
    args_dict: dict,
    run_id: str,
    ready,
    start,
    stop,
    results,
) -> None:
    """A feeder process: make its batches, say ready, then POST them in turn (each under a
    fresh Idempotency-Key) back to back until told to stop; report what was accepted."""
    a = argparse.Namespace(**args_dict)
    bodies = make_bodies(
        targets, a.distinct_batches, a.batch_events, a.window, a.seed * 1000 + feeder
    )
    result = FeedResult(feeder, body_bytes=sum(len(b.gz) for b in bodies) // len(bodies))
    accepted = [0] * len(bodies)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=BATCH_TIMEOUT)
    ready.put(feeder)
    start.wait()
    i = 0
    while not stop.is_set():
        which = i % len(bodies)
        key = f"bench-live-{run_id}-f{feeder}-{i}"
        i += 1
        result.sent += 1
        began = time.monotonic()
        try:
            status, raw = post_batch(connection, token, key, bodies[which].gz)
        except (OSError, http.client.HTTPException) as error:
            status, raw = 0, repr(error).encode()
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=BATCH_TIMEOUT)
        result.ended = time.monotonic()
        answer = None
        if status == 200:
            try:
                answer = json.loads(raw)
            except ValueError:
                answer = None
        if answer is not None and answer.get("applied") and answer.get("events") is not None:
            result.ok += 1
            result.events += int(answer["events"])
            result.latencies.append(result.ended - began)
            accepted[which] += 1
            if int(answer["events"]) != bodies[which].events:
                result.errors.append(
                    f"batch {key}: {answer['events']} events accepted of "
                    f"{bodies[which].events} sent"
                )
        else:
            result.failed += 1
            if len(result.errors) < 5:
                result.errors.append(
                    f"batch {key}: HTTP {status}: {raw[:300].decode(errors='replace')}"
                )
    connection.close()
    for body, times in zip(bodies, accepted, strict=True):
        for key, n in body.counts.items():
            result.counts[key] += n * times
    results.put(result)


@dataclass
class Feed:
    seconds: float
    sent: int
    ok: int
    failed: int
    events: int
    latencies: list[float]
    errors: list[str]
    counts: Counter
    body_bytes: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class Feeders:
    """`n` feeder processes, their batches made before start() (which starts the clock)."""

    def __init__(self, n: int, port: int, token: str, targets: list[str], args, run_id: str):
        context = mp.get_context("spawn")
        self._ready, self._results = context.Queue(), context.Queue()
        self._start, self._stop = context.Event(), context.Event()
        self.processes = [
            context.Process(
                target=feeder_main,
                daemon=True,
                args=(
                    f,
                    port,
                    token,
                    targets,
                    vars(args),
                    run_id,
                    self._ready,
                    self._start,
                    self._stop,
                    self._results,
                ),
            )
            for f in range(n)
        ]
        for process in self.processes:
            process.start()
        for _ in self.processes:
            self._wait(self._ready, 600, "making its batches")
        self.started = 0.0

    def _wait(self, q, timeout: float, doing: str):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return q.get(timeout=1)
            except queue.Empty:
                dead = [p for p in self.processes if p.exitcode not in (None, 0)]
                if dead or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"a feeder failed while {doing}") from None

    def start(self) -> None:
        self.started = time.monotonic()
        self._start.set()

    def finish(self) -> Feed:
        """Stop after the batches in flight; the totals over every feeder."""
        self._stop.set()
        results = [self._wait(self._results, BATCH_TIMEOUT + 60, "feeding") for _ in self.processes]
        for process in self.processes:
            process.join(30)
        ended = max((r.ended for r in results), default=self.started)
        counts: Counter = Counter()
        for r in results:
            counts.update(r.counts)
        return Feed(
            seconds=max(0.0, ended - self.started),
            sent=sum(r.sent for r in results),
            ok=sum(r.ok for r in results),
            failed=sum(r.failed for r in results),
            events=sum(r.events for r in results),
            latencies=sorted(x for r in results for x in r.latencies),
            errors=[e for r in results for e in r.errors],
            counts=counts,
            body_bytes=max(r.body_bytes for r in results),
        )

    def kill(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
                process.join(5)


# -- wrk -----------------------------------------------------------------------------------
def totals_script(folder: Path, body_path: Path, token: str) -> Path:
    script = folder / "wrk-live-totals.lua"
    script.write_text(f"""
local f = io.open({json.dumps(str(body_path))}, "rb")
wrk.method = "POST"
wrk.path = {json.dumps(TOTALS_PATH)}
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept-Encoding"] = "gzip"
wrk.headers["Authorization"] = {json.dumps("Bearer " + token)}
""")
    return script


# -- the run --------------------------------------------------------------------------------
@dataclass
class EngineResult:
    engine: str
    idle: WrkResult
    loaded: WrkResult
    feed: Feed
    alone: Feed | None
    check_ok: bool
    check_text: str


def check_store(before: Counter, after: Counter, feed: Feed) -> tuple[bool, str]:
    keys = set(feed.counts) | {k for k in after if after[k] != before[k]}
    wrong = [
        (k, after[k] - before[k], feed.counts[k])
        for k in sorted(keys)
        if after[k] - before[k] != feed.counts[k]
    ]
    grown = sum(after[k] - before[k] for k in keys)
    posts = len({post for post, _ in keys})
    text = (
        f"{feed.events:,} events accepted in {feed.ok:,} batches; the totals of the "
        f"{posts:,} touched posts grew by {grown:,}"
    )
    if not wrong and grown == feed.events:
        return True, text + ": exact."
    shown = "; ".join(f"{p} {t}: grew {g:,}, sent {s:,}" for (p, t), g, s in wrong[:5])
    return False, (
        text
        + f": MISMATCH on {len(wrong):,} (post, type) pairs ({shown})"
        + (" — a failed batch may have committed after its client gave up" if feed.failed else "")
    )


def run_engine(
    engine: str, store: str, args, query_ids: list[str], targets: list[str]
) -> EngineResult:
    token = admin_token(store)
    port = common.free_port()
    folder = common.data_dir() / "wrk-live"
    folder.mkdir(exist_ok=True)
    with Server(
        f"live-{engine}",
        common.serve_command(store, port, args.workers, args.ours_log_level),
        port,
    ).wait_ready() as server:
        token_q = bearer(store, server.base)
        run_id = f"{int(time.time())}-{os.getpid()}"
        # One small batch first: the token and the records are accepted, or fail early.
        probe = make_bodies(targets, 1, 10, args.window, args.seed)[0]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        status, raw = post_batch(connection, token, f"bench-live-{run_id}-probe", probe.gz)
        connection.close()
        try:
            accepted = json.loads(raw).get("events") if status == 200 else None
        except ValueError:
            accepted = None
        if accepted != probe.events:
            raise RuntimeError(f"{INGEST_PATH}: HTTP {status}: {raw[:1000]!r}")

        body_path = folder / "body-totals.json"
        body_path.write_bytes(totals_body(query_ids, TOTALS_METRICS))
        script = totals_script(folder, body_path, token_q)
        url = server.base + TOTALS_PATH

        def wrk(seconds: float) -> WrkResult:
            return common.run_wrk(url, script, seconds, args.threads, args.connections)

        if args.warmup:
            wrk(args.warmup)
        log(f"{engine}: idle /totals, {args.duration:g} s")
        idle = wrk(args.duration)

        alone = None
        if args.ingest_alone:
            log(f"{engine}: ingest alone, {args.duration:g} s")
            feeders = Feeders(args.feeders, port, token, targets, args, run_id + "-alone")
            try:
                feeders.start()
                time.sleep(args.duration)
                alone = feeders.finish()
            finally:
                feeders.kill()

        before = read_totals(server.base, token_q, targets)
        log(
            f"{engine}: {args.feeders} feeder(s) making {args.distinct_batches} batches of "
            f"{args.batch_events:,} events each"
        )
        feeders = Feeders(args.feeders, port, token, targets, args, run_id)
        try:
            log(f"{engine}: loaded /totals with live ingest, {args.duration:g} s")
            feeders.start()
            loaded = wrk(args.duration)
            feed = feeders.finish()
        finally:
            feeders.kill()
        after = read_totals(server.base, token_q, targets)
    check_ok, check_text = check_store(before, after, feed)
    for error in feed.errors[:5]:
        log(f"  {engine}: {error}")
    for name, result in (("idle", idle), ("loaded", loaded)):
        if result.failures:
            log(
                f"  {engine} {name}: {result.non_2xx} non-2xx answers, "
                f"{result.socket_errors} socket errors"
            )
    return EngineResult(engine, idle, loaded, feed, alone, check_ok, check_text)


def run(args) -> int:
    common.ensure_wrk()
    data = common.simulated(args.posts, args.events, args.seed)
    query_ids, targets = choose_posts(data, args)
    overlap = len(set(query_ids) & set(targets))
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    results = []
    for engine in engines:
        if engine == "sqlite":
            results.append(run_engine(engine, sqlite_store(args, data), args, query_ids, targets))
            continue
        with Postgres() as postgres:
            store = postgres.fresh_database("live")
            log("ingesting into PostgreSQL")
            common.cli("ingest", "-q", str(data), store=store)
            results.append(run_engine(engine, store, args, query_ids, targets))
    report(args, results, len(targets), overlap)
    ok = all(r.check_ok for r in results)
    return 0 if ok else 1


# -- the report -----------------------------------------------------------------------------
def _errors(result: WrkResult) -> str:
    if not result.failures:
        return "0"
    return f"{result.failures:,} ({result.non_2xx:,} non-2xx, {result.socket_errors:,} socket)"


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def report(args, results: list[EngineResult], n_targets: int, overlap: int) -> None:
    print(
        f"\n## Live ingest: {args.posts:,} posts, {args.events:,} events in the base store; "
        f"wrk {args.duration:g} s, {args.threads} threads, {args.connections} connections; "
        f"{args.workers} workers; {args.feeders} feeder(s), {args.batch_events:,} events "
        f"per batch; {os.cpu_count()} cores\n"
    )
    print(
        f"/totals: 250 random public posts, bearer, {', '.join(TOTALS_METRICS)}. Live "
        f"events: {', '.join(LIVE_TYPES)} (count 1) on {n_targets:,} posts ({overlap} of "
        f"them among the 250 queried), in the {args.window} s before {NOW}; gzip NDJSON, "
        f"{args.distinct_batches} distinct batches per feeder sent in turn, each under a "
        "fresh Idempotency-Key.\n"
    )
    headers = [
        "store",
        "run",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "ingest events/s",
        "batches ok / failed",
    ]
    rows = []
    for r in results:
        rows.append(
            [
                r.engine,
                "idle",
                common.fmt_number(r.idle.rps),
                common.fmt_ms(r.idle.p50_ms),
                common.fmt_ms(r.idle.p99_ms),
                _errors(r.idle),
                "–",
                "–",
            ]
        )
        if r.alone:
            rows.append(
                [
                    "",
                    "ingest alone",
                    "–",
                    "–",
                    "–",
                    "–",
                    common.fmt_number(r.alone.rate),
                    f"{r.alone.ok:,} / {r.alone.failed:,}",
                ]
            )
        rows.append(
            [
                "",
                "loaded",
                common.fmt_number(r.loaded.rps),
                common.fmt_ms(r.loaded.p50_ms),
                common.fmt_ms(r.loaded.p99_ms),
                _errors(r.loaded),
                common.fmt_number(r.feed.rate),
                f"{r.feed.ok:,} / {r.feed.failed:,}",
            ]
        )
    print(common.markdown_table(headers, rows))
    print()
    headers = ["store", "figure", "loaded/idle", "target", "verdict"]
    rows = []
    for r in results:
        p99 = common.ratio(r.loaded.p99_ms, r.idle.p99_ms)
        failures = r.idle.failures + r.loaded.failures + r.feed.failed
        rows.append(
            [
                r.engine,
                "requests failed (queries idle + loaded, batches)",
                f"{failures:,}",
                "none",
                common.verdict(failures == 0),
            ]
        )
        rows.append(
            [
                "",
                "p99 ms",
                common.fmt_ratio(p99),
                f"< {P99_TARGET:g}× idle",
                common.verdict(None if p99 is None else p99 < P99_TARGET),
            ]
        )
        rows.append(["", "req/s", common.fmt_ratio(common.ratio(r.loaded.rps, r.idle.rps)), "", ""])
        rows.append(["", "store check", "", "exact", common.verdict(r.check_ok)])
    print(common.markdown_table(headers, rows))
    print()
    for r in results:
        lat = r.feed.latencies
        print(
            f"- {r.engine}: {r.feed.sent:,} batches sent in {r.feed.seconds:.1f} s "
            f"(~{r.feed.body_bytes / 1024:,.0f} KiB gzip each); batch answer p50 "
            f"{common.fmt_ms(_ms(_percentile(lat, 0.5)))} ms, max "
            f"{common.fmt_ms(_ms(lat[-1] if lat else None))} ms."
        )
        print(f"- {r.engine} store check: {r.check_text}")
        for error in r.feed.errors[:3]:
            print(f"- {r.engine} batch error: {error}")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_load_options(
        parser,
        warmup_help="seconds of wrk warm-up",
        log_help="serve --log-level (info adds an access log line per request)",
        reuse_help="reuse the live SQLite store of an earlier run (else ingest anew)",
    )
    parser.add_argument(
        "--batch-events", type=int, default=10_000, help="events per POST /admin/ingest batch"
    )
    parser.add_argument(
        "--feeders", type=int, default=1, help="feeder processes, each posting batches back to back"
    )
    parser.add_argument(
        "--distinct-batches",
        type=int,
        default=8,
        help="batches each feeder makes in advance and sends in turn",
    )
    parser.add_argument(
        "--ingest-posts",
        type=int,
        default=1000,
        help="posts the live events go to (the queried ones first)",
    )
    parser.add_argument(
        "--window", type=int, default=1800, help="live events fall in this many seconds before now"
    )
    parser.add_argument(
        "--ingest-alone",
        action="store_true",
        help="also measure the feeders alone, with no queries, for --duration",
    )
    args = parser.parse_args(argv)
    if args.batch_events < 1 or args.feeders < 1 or args.distinct_batches < 1:
        parser.error("--batch-events, --feeders and --distinct-batches must be at least 1")
    if not 1 <= args.window <= 86400:
        parser.error("--window must be 1..86400 seconds")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
