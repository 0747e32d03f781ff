"""Which engine should roll engagement events up per (post_id, metric, hour)?

    python bench/bench_rollup.py [--events N]        # default 20,000,000 events, 100,000 posts

The same roll-up as `engagement_api.ingest.columnar.roll_up` (derive an `engagements` row
for every interaction event, drop promoted impressions, sum `count` per key), timed with five
engines: a plain Python Counter, NumPy, pyarrow `Table.group_by` (what ingest uses), polars
and DuckDB. Each engine runs in a fresh child process, in chunks of 1,000,000 events as ingest
does and once over the whole array; every result is checked against `columnar.roll_up` itself.

Input: `simulate.synthetic_batches(100_000, N, now=2026-11-20T12:30:00Z, seed=1)`, turned into
NumPy columns with `columnar.plain_events` before anything is timed (post_id int64, metric
code int16, hour int32, count int64, promoted bool) and cached under $BENCH_DATA (default
/tmp/engagement-bench, never inside the repository).

Timed per chunk: the shared NumPy step that derives the rows to sum (the first lines of
`roll_up`), then the engine's group-and-sum into its natural result (an Arrow table; a Counter
for the Python engine). Not timed: loading, imports, a warm-up on 10,000 rows, the check.
Memory: peak RSS of the child while rolling up (VmHWM, reset through /proc/self/clear_refs
before each chunk so the untimed check is not counted; `ru_maxrss` where that is unavailable),
minus its RSS before the first chunk, i.e. on top of the loaded input.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

POSTS = 100_000
SEED = 1
CHUNK = 1_000_000
NOW = "2026-11-20T12:30:00Z"
ENGINES = ("counter", "numpy", "pyarrow", "polars", "duckdb")
COLUMNS = ("post_id", "metric", "hour", "count", "promoted")


# -- the input ---------------------------------------------------------------------------
def data_dir() -> Path:
    folder = Path(os.environ.get("BENCH_DATA", "/tmp/engagement-bench")).resolve()
    repository = Path(__file__).resolve().parent.parent
    if repository in (folder, *folder.parents):
        raise SystemExit(f"BENCH_DATA={folder} is inside the repository; choose a folder outside")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def prepare(events: int, chunk: int) -> Path:
    """Columns and reference digests for this size, made once and cached."""
    path = data_dir() / f"rollup-p{POSTS}-e{events}-s{SEED}-c{chunk}"
    if (path / "reference.json").exists():
        return path
    import pyarrow as pa

    from engagement_api.ingest import columnar
    from engagement_api.simulate import EVENTS_PER_BATCH, synthetic_batches

    if chunk != EVENTS_PER_BATCH:
        raise SystemExit(f"--chunk must be {EVENTS_PER_BATCH:,}, the batch size of the simulator")
    print(f"[bench] simulating {events:,} events -> {path}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    now = datetime.fromisoformat(NOW.replace("Z", "+00:00")).astimezone(UTC).timestamp()
    parts: list[columnar.Events] = []
    digests: list[str] = []
    for batch in synthetic_batches(POSTS, events, now, SEED):
        table = pa.Table.from_batches([batch])
        found = columnar.plain_events(table)
        if batch.num_rows and batch["record"][0].as_py() == "post":
            assert len(found.rows) == 0
            continue
        assert len(found.rows) == batch.num_rows, "every simulated event is plainly valid"
        parts.append(found)
        digests.append(digest_table(columnar.roll_up(found)))  # the project's own roll-up
    whole = columnar.Events(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in columnar.Events.__slots__)
    )
    reference = columnar.roll_up(whole)
    path.mkdir(exist_ok=True)
    columns = {
        "post_id": whole.post_id.astype(np.int64),
        "metric": columnar._CODE_OF_TYPE[whole.kind].astype(np.int16),
        "hour": (whole.at_ms // 3_600_000).astype(np.int32),
        "count": whole.count.astype(np.int64),
        "promoted": whole.promoted.astype(bool),
    }
    for name, values in columns.items():
        np.save(path / f"{name}.npy", values)
    info = {
        "events": len(whole.post_id),
        "chunks": digests,
        "whole": digest_table(reference),
        "keys": reference.num_rows,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (path / "reference.json").write_text(json.dumps(info))
    return path


# -- the check ---------------------------------------------------------------------------
def digest(post, metric, hour, count) -> str:
    """A digest of the set of (post, metric, hour, sum) rows, whatever their order."""
    post, metric, hour, count = (np.asarray(a, dtype=np.int64) for a in (post, metric, hour, count))
    order = np.lexsort((hour, metric, post))
    h = hashlib.sha256()
    for values in (post, metric, hour, count):
        h.update(np.ascontiguousarray(values[order]).tobytes())
    return f"{len(post)}:{h.hexdigest()}"


def digest_table(table) -> str:
    return digest(*(table[c].to_numpy() for c in ("post_id", "metric", "hour", "count")))


def digest_result(result) -> str:
    if isinstance(result, Counter):
        n = len(result)
        keys = np.fromiter((v for k in result for v in k), dtype=np.int64, count=3 * n)
        keys = keys.reshape(n, 3)
        count = np.fromiter(result.values(), dtype=np.int64, count=n)
        return digest(keys[:, 0], keys[:, 1], keys[:, 2], count)
    return digest_table(result)


# -- the engines -------------------------------------------------------------------------
def rules():
    """The roll-up rules by metric code, from the project's own tables."""
    from engagement_api.ingest import columnar

    codes = columnar._CODE_OF_TYPE
    interaction = np.zeros(int(codes.max()) + 1, dtype=bool)
    interaction[codes] = columnar._IS_INTERACTION  # code 0 is `other`: an interaction
    impressions = int(codes[columnar._IMPRESSIONS])
    return interaction, impressions, np.int16(columnar.ENGAGEMENTS)


INTERACTION, IMPRESSIONS, ENGAGEMENTS = rules()


def derive(post, metric, hour, count, promoted):
    """The rows to sum: each event's own metric (none for `other`, none for a promoted
    impression) and an `engagements` row for each interaction, as `roll_up` builds them."""
    own = (metric != 0) & ~((metric == IMPRESSIONS) & promoted)
    interaction = INTERACTION[metric]
    return (
        np.concatenate([post[own], post[interaction]]),
        np.concatenate([metric[own], np.full(int(interaction.sum()), ENGAGEMENTS, np.int16)]),
        np.concatenate([hour[own], hour[interaction]]),
        np.concatenate([count[own], count[interaction]]),
    )


def engine(name: str):
    """(version, roll-up function over the five columns)."""
    if name == "derive":
        return np.__version__, lambda *cols: derive(*cols)

    if name == "counter":

        def counter(*cols):
            post, metric, hour, count = derive(*cols)
            sums: Counter = Counter()
            for key, n in zip(
                zip(post.tolist(), metric.tolist(), hour.tolist(), strict=True),
                count.tolist(),
                strict=True,
            ):
                sums[key] += n
            return sums

        return f"Python {sys.version.split()[0]}", counter

    import pyarrow as pa

    if name == "numpy":

        def numpy_sum(*cols):
            post, metric, hour, count = derive(*cols)
            # Post ids take up to 63 bits, so they cannot share an int64 with the rest: they
            # are numbered densely first (np.unique), then (post number, hour - first hour,
            # metric) are packed into one non-negative int64 when their bits fit: always for
            # under 2^26 distinct posts (an int32 hour span takes at most 32 bits, a metric
            # code 5). Otherwise, the three columns are lexsorted.
            posts, post_no = np.unique(post, return_inverse=True)
            low = int(hour.min()) if len(hour) else 0
            hour_bits = int(hour.max() - low).bit_length() if len(hour) else 0
            metric_bits = int(metric.max()).bit_length() if len(metric) else 0
            if (len(posts) - 1).bit_length() + hour_bits + metric_bits <= 63:
                key = (
                    (post_no.astype(np.int64) << (hour_bits + metric_bits))
                    | ((hour.astype(np.int64) - low) << metric_bits)
                    | metric.astype(np.int64)
                )
                order = np.argsort(key)
                key = key[order]
                start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
                key = key[start]
                out_post = posts[key >> (hour_bits + metric_bits)]
                out_hour = ((key >> metric_bits) & ((1 << hour_bits) - 1)) + low
                out_metric = key & ((1 << metric_bits) - 1)
            else:
                order = np.lexsort((hour, metric, post))
                p, m, h = post[order], metric[order], hour[order]
                start = np.flatnonzero(
                    np.r_[True, (p[1:] != p[:-1]) | (m[1:] != m[:-1]) | (h[1:] != h[:-1])]
                )
                out_post, out_metric, out_hour = p[start], m[start], h[start]
            sums = np.add.reduceat(count[order], start) if len(start) else count[:0]
            return pa.table(
                {
                    "post_id": out_post,
                    "metric": out_metric.astype(np.int16),
                    "hour": out_hour.astype(np.int32),
                    "count": sums,
                }
            )

        return np.__version__, numpy_sum

    if name == "pyarrow":

        def arrow_sum(*cols):
            post, metric, hour, count = derive(*cols)
            table = pa.table({"post_id": post, "metric": metric, "hour": hour, "count": count})
            summed = table.group_by(["post_id", "metric", "hour"]).aggregate([("count", "sum")])
            return summed.rename_columns(["post_id", "metric", "hour", "count"])

        return pa.__version__, arrow_sum

    if name == "polars":
        import polars as pl

        def polars_sum(*cols):
            post, metric, hour, count = derive(*cols)
            frame = pl.DataFrame({"post_id": post, "metric": metric, "hour": hour, "count": count})
            summed = frame.group_by(["post_id", "metric", "hour"]).agg(pl.col("count").sum())
            return summed.to_arrow()

        return pl.__version__, polars_sum

    if name == "duckdb":
        import duckdb

        connection = duckdb.connect()
        query = (
            "SELECT post_id, metric, hour, sum(count)::BIGINT AS count "
            "FROM rows GROUP BY post_id, metric, hour"
        )

        def duckdb_sum(*cols):
            post, metric, hour, count = derive(*cols)
            rows = pa.table({"post_id": post, "metric": metric, "hour": hour, "count": count})
            connection.register("rows", rows)  # scanned in place, not copied into DuckDB
            try:
                return connection.execute(query).to_arrow_table()
            finally:
                connection.unregister("rows")

        return duckdb.__version__, duckdb_sum

    raise SystemExit(f"unknown engine {name}")


# -- one measured child ------------------------------------------------------------------
def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{field}:\s+(\d+)", f.read()).group(1))  # kB


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child(name: str, mode: str, path: Path, chunk: int) -> dict:
    cols = [np.load(path / f"{c}.npy") for c in COLUMNS]
    version, roll = engine(name)
    roll(*(c[:10_000] for c in cols))  # warm-up: lazy imports, thread pools
    n = len(cols[0])
    step = chunk if mode == "chunked" else n
    resettable = _reset_peak()
    base = _status("VmRSS") if resettable else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds, peak, digests = 0.0, base, []
    for start in range(0, n, step):
        part = [c[start : start + step] for c in cols]
        if resettable:
            _reset_peak()
        began = time.perf_counter()
        result = roll(*part)
        seconds += time.perf_counter() - began
        if resettable:
            peak = max(peak, _status("VmHWM"))
        if name != "derive":
            digests.append(digest_result(result))
        del result
    if not resettable:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "engine": name,
        "version": version,
        "mode": mode,
        "events": n,
        "seconds": seconds,
        "peak_kb": peak - base,
        "digests": digests,
        "peak_source": "VmHWM" if resettable else "ru_maxrss (includes the check)",
    }


# -- the driver --------------------------------------------------------------------------
def installed_mb(*distributions: str) -> float | None:
    from importlib import metadata

    total = 0
    for d in distributions:
        try:
            files = metadata.distribution(d).files or []
        except metadata.PackageNotFoundError:
            return None
        for f in files:
            with contextlib.suppress(OSError):
                total += f.locate().stat().st_size
    return total / 2**20


DISTRIBUTIONS = {
    "numpy": ("numpy",),
    "pyarrow": ("pyarrow",),
    "polars": ("polars", "polars-runtime-32"),
    "duckdb": ("duckdb",),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--chunk", type=int, default=CHUNK, help=argparse.SUPPRESS)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-array runs")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per child")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="chunked", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(child(args.child, args.mode, Path(args.data), args.chunk)))
        return

    path = prepare(args.events, args.chunk)
    reference = json.loads((path / "reference.json").read_text())
    runs = [("derive", "chunked")]
    for name in args.engines.split(","):
        runs.append((name, "chunked"))
        if not args.no_whole:
            runs.append((name, "whole"))
    results = []
    for name, mode in runs:
        command = [sys.executable, __file__, "--child", name, "--mode", mode]
        command += ["--data", str(path), "--chunk", str(args.chunk)]
        print(f"[bench] {name} ({mode})", file=sys.stderr, flush=True)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            results.append({"engine": name, "mode": mode, "error": f"over {args.timeout:.0f} s"})
            continue
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["?"]
            results.append({"engine": name, "mode": mode, "error": tail[0]})
            continue
        run = json.loads(done.stdout.strip().splitlines()[-1])
        expected = reference["chunks"] if mode == "chunked" else [reference["whole"]]
        run["same"] = None if name == "derive" else run.pop("digests") == expected
        print(
            f"[bench]   {run['seconds']:.2f} s, same result: {run['same']}",
            file=sys.stderr,
            flush=True,
        )
        results.append(run)

    pyarrow_rate = {
        r["mode"]: r["events"] / r["seconds"]
        for r in results
        if r.get("engine") == "pyarrow" and "error" not in r
    }
    chunks = (reference["events"] + args.chunk - 1) // args.chunk
    print(
        f"\nRoll-up of {reference['events']:,} events ({POSTS:,} posts, {reference['keys']:,} "
        f"(post, metric, hour) keys in all), {os.cpu_count()} cores; chunked = {chunks} chunks "
        f"of {args.chunk:,}, whole = one call over every event.\n"
    )
    print(
        "| engine | version | mode | events/s | ratio to pyarrow | peak RSS growth | same result |"
    )
    print("|---|---|---|---:|---:|---:|---|")
    for r in results:
        label = (
            "NumPy derive step only (in every row below)"
            if r["engine"] == "derive"
            else r["engine"]
        )
        if "error" in r:
            print(f"| {label} |  | {r['mode']} | {r['error']} |  |  |  |")
            continue
        rate = r["events"] / r["seconds"]
        ratio = f"{rate / pyarrow_rate[r['mode']]:.2f}×" if r["mode"] in pyarrow_rate else "—"
        same = "—" if r["same"] is None else ("yes" if r["same"] else "**NO**")
        print(
            f"| {label} | {r['version']} | {r['mode']} | {rate / 1e6:.2f} M | {ratio} | "
            f"{r['peak_kb'] / 1024:.0f} MB | {same} |"
        )
    sizes = {name: installed_mb(*d) for name, d in DISTRIBUTIONS.items()}
    print(
        "\nInstalled size: "
        + ", ".join(f"{n} {s:.0f} MB" for n, s in sizes.items() if s is not None)
        + f". Peak RSS: {results[-1].get('peak_source', 'VmHWM')}, above the loaded input."
    )
    if any(r.get("same") is False or "error" in r for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
