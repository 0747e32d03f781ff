"""Ingest benchmark: `engagement-api ingest` beside the NAIVE one-INSERT-per-event loader.

    python bench/bench_ingest.py [--posts 100000 --events 20000000] [--engines sqlite,postgresql]

Both sides read the same simulated Parquet file into a fresh store: ours into its schema
(hourly rows and totals), the naive peer into a raw-events table with one INSERT statement per
record executed from Python and one commit at the end. Each runs as a child process, timed
from start to exit (so events/s includes start-up); peak RSS is the child's own (wait4).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from common import NOW, PEERS_DIR, PYTHON, Measured, Postgres, log

SQLITE_TARGET_RATE = 1_000_000  # events/s
NAIVE_TARGET = 20.0  # ours / naive
RSS_TARGET = 2**30  # bytes


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def ours(store: str, data: Path) -> tuple[Measured, int]:
    measured = common.run_measured(
        [*common.engagement_api(), "--store", store, "--now", NOW, "ingest", "-q", str(data)]
    )
    if measured.returncode != 0:
        raise RuntimeError(
            f"engagement-api ingest failed ({measured.returncode}):\n"
            f"{measured.stdout}\n{measured.stderr[-3000:]}"
        )
    found = re.search(r"([\d,]+) events?,\s*([\d,]+) rejected", measured.stdout)
    if not found:
        raise RuntimeError(f"cannot read the ingest summary: {measured.stdout!r}")
    if found.group(2) != "0":
        log(f"warning: ours rejected {found.group(2)} records")
    return measured, int(found.group(1).replace(",", ""))


def naive(store: str, data: Path, limit: int | None) -> tuple[Measured, int]:
    command = [PYTHON, str(PEERS_DIR / "naive.py"), "load", str(data), "--store", store]
    if limit:
        command += ["--limit", str(limit)]
    measured = common.run_measured(command)
    if measured.returncode != 0:
        raise RuntimeError(f"naive load failed ({measured.returncode}):\n{measured.stderr}")
    found = re.search(r"([\d,]+) events inserted", measured.stdout)
    return measured, int(found.group(1).replace(",", ""))


def run(args) -> int:
    data = common.simulated(args.posts, args.events, args.seed)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    folder = common.data_dir()
    results: dict[str, dict[str, tuple[Measured, int]]] = {}
    for engine in engines:
        results[engine] = {}
        if engine == "sqlite":
            for side in ("ours", "naive"):
                if side == "naive" and args.skip_naive:
                    continue
                path = folder / f"ingest-{side}.db"
                _remove_sqlite(path)
                log(f"{side}: ingesting into SQLite {path}")
                try:
                    results[engine][side] = (
                        ours(f"sqlite:///{path}", data)
                        if side == "ours"
                        else naive(f"sqlite:///{path}", data, args.naive_limit)
                    )
                finally:
                    _remove_sqlite(path)
        elif engine == "postgresql":
            with Postgres() as postgres:
                for side in ("ours", "naive"):
                    if side == "naive" and args.skip_naive:
                        continue
                    url = postgres.fresh_database(f"ingest_{side}")
                    log(f"{side}: ingesting into PostgreSQL")
                    results[engine][side] = (
                        ours(url, data) if side == "ours" else naive(url, data, args.naive_limit)
                    )
        else:
            raise SystemExit(f"unknown engine {engine!r} (sqlite, postgresql)")
    report(args, engines, results)
    return 0


def report(args, engines, results) -> None:
    print(f"\n## Ingest: {args.posts:,} posts, {args.events:,} events (simulated Parquet)\n")
    rows = []
    for engine in engines:
        mine, mine_events = results[engine]["ours"]
        theirs = results[engine].get("naive")
        rate = mine_events / mine.seconds
        naive_rate = theirs[1] / theirs[0].seconds if theirs else None
        r = common.ratio(rate, naive_rate)
        targets = [f"≥ {NAIVE_TARGET:.0f}× naive"]
        ok = r is None or r >= NAIVE_TARGET
        if engine == "sqlite":
            targets.insert(0, f"≥ {SQLITE_TARGET_RATE:,}/s")
            ok = ok and rate >= SQLITE_TARGET_RATE
        rows.append(
            [
                engine,
                "events/s",
                common.fmt_number(rate),
                common.fmt_number(naive_rate),
                common.fmt_ratio(r),
                ", ".join(targets),
                common.verdict(ok),
            ]
        )
        rows.append(
            ["", "events", f"{mine_events:,}", f"{theirs[1]:,}" if theirs else "–", "", "", ""]
        )
        rows.append(
            [
                "",
                "seconds",
                f"{mine.seconds:.2f}",
                f"{theirs[0].seconds:.2f}" if theirs else "–",
                common.fmt_ratio(common.ratio(mine.seconds, theirs[0].seconds)) if theirs else "–",
                "",
                "",
            ]
        )
        rows.append(
            [
                "",
                "peak RSS",
                common.fmt_bytes(mine.max_rss),
                common.fmt_bytes(theirs[0].max_rss) if theirs else "–",
                common.fmt_ratio(common.ratio(mine.max_rss, theirs[0].max_rss)) if theirs else "–",
                "< 1 GiB",
                common.verdict(mine.max_rss < RSS_TARGET),
            ]
        )
    print(
        common.markdown_table(
            ["store", "figure", "ours", "naive", "ours/naive", "target", "verdict"], rows
        )
    )
    print(
        "\nevents/s = events ÷ wall seconds of the child process (start-up included); "
        "peak RSS is the child's (the PostgreSQL server's memory is not counted)."
    )
    if args.naive_limit:
        print(
            f"The naive loader stopped after {args.naive_limit:,} events (--naive-limit); "
            "its rate is measured on those."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument(
        "--naive-limit",
        type=int,
        default=0,
        help="stop the naive loader after N events (0: all of them)",
    )
    parser.add_argument("--skip-naive", action="store_true")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
