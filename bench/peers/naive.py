"""The NAIVE peer: raw events in one table, aggregated by GROUP BY on every request.

This is the design a first implementation would take: keep every engagement event as a row
(post_id, type, at, count, promoted), index it by post, and sum what a request asks for when
it asks. It answers the same three endpoints in the same shape as engagement-api (counts as
strings, the same grouping nesting, gzip level 1, orjson), so the benchmark compares storage
and query strategies, not JSON libraries. Authentication and rate limits are skipped (it is
a peer for speed, not a server to deploy), so its figures are, if anything, flattering.

    python bench/peers/naive.py load FILE.parquet --store sqlite:////tmp/x.db [--limit N]
    python bench/peers/naive.py load FILE.parquet --store postgresql://postgres@127.0.0.1:P/db
    python bench/peers/naive.py serve --db /tmp/x.db --now 2026-11-20T12:30:00Z --port P

`load` executes one INSERT statement per record from Python and commits once at the end.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
import zlib
from datetime import UTC, datetime

import orjson

HOUR = 3600
NON_INTERACTION = ("impressions", "media_views", "video_views")
SERIES_WINDOW_HOURS = 28
HISTORICAL_MAX_HOURS = 28 * 24
TOTALS_MAX_IDS, SERIES_MAX_IDS = 250, 25


# -- schema and loading -------------------------------------------------------------------
def schema(engine: str) -> list[str]:
    big, flag = ("BIGINT", "BOOLEAN") if engine == "postgresql" else ("INTEGER", "INTEGER")
    return [
        f"CREATE TABLE posts (id {big} PRIMARY KEY, author_id {big} NOT NULL, "
        f"created {big} NOT NULL, protected {flag} NOT NULL, deleted {flag} NOT NULL, "
        "video_id TEXT)",
        "CREATE INDEX posts_video ON posts (video_id)",
        f"CREATE TABLE events (post_id {big} NOT NULL, type TEXT NOT NULL, at {big} NOT NULL, "
        f"count {big} NOT NULL, promoted {flag} NOT NULL)",
        "CREATE INDEX events_post ON events (post_id)",
    ]


def _connect(store: str):
    """(connection, engine, placeholder) for a sqlite:/// or postgresql:// URL."""
    if store.startswith(("postgresql://", "postgres://")):
        import psycopg

        return psycopg.connect(store), "postgresql", "%s"
    if store.startswith("sqlite:///"):
        return sqlite3.connect(store.removeprefix("sqlite:///")), "sqlite", "?"
    raise SystemExit(f"unsupported store URL {store!r}")


def load(source: str, store: str, limit: int | None = None) -> tuple[int, int, float]:
    """Insert every record of a simulated Parquet file, one statement each; one commit."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    started = time.perf_counter()
    connection, engine, mark = _connect(store)
    cursor = connection.cursor()
    for statement in schema(engine):
        cursor.execute(statement)
    insert_post = (
        f"INSERT INTO posts (id, author_id, created, protected, deleted, video_id) "
        f"VALUES ({mark},{mark},{mark},{mark},{mark},{mark}) ON CONFLICT (id) DO UPDATE SET "
        "author_id=excluded.author_id, created=excluded.created, protected=excluded.protected, "
        "deleted=excluded.deleted, video_id=excluded.video_id"
    )
    insert_event = (
        f"INSERT INTO events (post_id, type, at, count, promoted) "
        f"VALUES ({mark},{mark},{mark},{mark},{mark})"
    )
    as_flag = bool if engine == "postgresql" else int
    posts = events = 0
    for batch in pq.ParquetFile(source).iter_batches(batch_size=65_536):
        columns = {name: batch.column(name) for name in batch.schema.names}
        for name in ("created_at", "at"):  # epoch seconds
            columns[name] = pc.divide(pc.cast(columns[name], "int64"), 1000)
        rows = zip(
            *(
                columns[name].to_pylist()
                for name in (
                    "record",
                    "id",
                    "author_id",
                    "created_at",
                    "protected",
                    "deleted",
                    "video_id",
                    "post_id",
                    "type",
                    "at",
                    "count",
                    "promoted",
                )
            ),
            strict=True,
        )
        for (
            record,
            pid,
            author,
            created,
            protected,
            deleted,
            video,
            post_id,
            kind,
            at,
            count,
            promoted,
        ) in rows:
            if record == "post":
                cursor.execute(
                    insert_post,
                    (
                        int(pid),
                        int(author),
                        created,
                        as_flag(bool(protected)),
                        as_flag(bool(deleted)),
                        video,
                    ),
                )
                posts += 1
            else:
                if limit is not None and events >= limit:
                    break
                cursor.execute(
                    insert_event, (int(post_id), kind, at, count, as_flag(bool(promoted)))
                )
                events += 1
        if limit is not None and events >= limit:
            break
    connection.commit()
    connection.close()
    return posts, events, time.perf_counter() - started


# -- answering ------------------------------------------------------------------------------
class BadRequest(Exception):
    pass


def _day_key(hour: int) -> str:
    return datetime.fromtimestamp(hour * HOUR, UTC).strftime("%Y-%m-%d")


def _format(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> int:
    text = text.strip()
    if len(text) == 10:
        text += "T00:00:00Z"
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


class Naive:
    def __init__(self, db_path: str, now: int) -> None:
        self.db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        self.now = now

    def _posts(self, ids: list[int]):
        marks = ",".join("?" * len(ids))
        found = {
            row[0]: row
            for row in self.db.execute(
                "SELECT id, author_id, created, protected, deleted, video_id FROM posts "
                f"WHERE id IN ({marks})",
                ids,
            )
        }
        available = [
            found[i] for i in ids if i in found and not found[i][4] and found[i][2] <= self.now
        ]
        unavailable = [i for i in ids if i not in found or found[i][4] or found[i][2] > self.now]
        if any(p[3] for p in available):
            raise BadRequest("Tweet ID(s) are unavailable")
        return available, unavailable

    def answer(self, endpoint: str, document: dict) -> dict:
        raw_ids = document.get("tweet_ids")
        metrics = document.get("engagement_types")
        groupings = document.get("groupings")
        limit = TOTALS_MAX_IDS if endpoint == "totals" else SERIES_MAX_IDS
        if not (
            isinstance(raw_ids, list)
            and 0 < len(raw_ids) <= limit
            and isinstance(metrics, list)
            and metrics
            and isinstance(groupings, dict)
            and groupings
        ):
            raise BadRequest("tweet_ids, engagement_types and groupings are required")
        ids = list(dict.fromkeys(int(i) for i in raw_ids))
        metrics = list(dict.fromkeys(metrics))
        levels = {
            name: [level.strip().lower() for level in value["group_by"]]
            for name, value in groupings.items()
        }
        available, unavailable = self._posts(ids)
        body: dict = {}
        end = (self.now // HOUR + 1) * HOUR  # the current hour counts whole
        if endpoint == "totals":
            start = None
        elif endpoint == "28hr":
            start = end - (SERIES_WINDOW_HOURS + 1) * HOUR
        else:
            start = document.get("start")
            start = (_parse(start) // HOUR * HOUR) if start else end - HISTORICAL_MAX_HOURS * HOUR
            if document.get("end"):
                end = -(-_parse(document["end"]) // HOUR) * HOUR
            else:
                end = min(start + HISTORICAL_MAX_HOURS * HOUR, end)
        if start is not None:
            body["start"], body["end"] = _format(start), _format(end)
        if unavailable:
            body["unavailable_tweet_ids"] = [str(i) for i in unavailable]
            body["errors"] = [f"{len(unavailable)} Tweet ID(s) are unavailable"]
        if not available:
            for name in levels:
                body[name] = {}
            return body
        if start is None:
            values = self._totals(available, metrics, end)
            hours = None
        else:
            values = self._series(available, metrics, start, end)
            hours = list(range(start // HOUR, end // HOUR))
        pairs = [(str(p[0]), m, values[p[0], m]) for p in available for m in metrics]
        for name, group_by in levels.items():
            body[name] = _group(group_by, pairs, hours, None, False)
        return body

    def _totals(self, available, metrics, end) -> dict:
        ids = [p[0] for p in available]
        sums = {(i, m): 0 for i in ids for m in metrics}
        marks = ",".join("?" * len(ids))
        for post_id, kind, promoted, total in self.db.execute(
            "SELECT post_id, type, promoted, SUM(count) FROM events "
            f"WHERE post_id IN ({marks}) AND at < ? GROUP BY post_id, type, promoted",
            [*ids, end],
        ):
            for metric in _metrics_of(kind, promoted):
                if (post_id, metric) in sums:
                    sums[post_id, metric] += total
        if "video_views" in metrics:  # a video's views count for every post that shows it
            videos = {p[5] for p in available if p[5] is not None}
            if videos:
                marks = ",".join("?" * len(videos))
                per_video = dict(
                    self.db.execute(
                        "SELECT p.video_id, SUM(e.count) FROM events e JOIN posts p "
                        f"ON p.id = e.post_id WHERE p.video_id IN ({marks}) "
                        "AND e.type = 'video_views' AND e.at < ? GROUP BY p.video_id",
                        [*videos, end],
                    )
                )
                for p in available:
                    if p[5] is not None:
                        sums[p[0], "video_views"] = per_video.get(p[5], 0)
        return sums

    def _series(self, available, metrics, start, end) -> dict:
        ids = [p[0] for p in available]
        first, size = start // HOUR, (end - start) // HOUR
        series = {(i, m): [0] * size for i in ids for m in metrics}
        marks = ",".join("?" * len(ids))
        for post_id, kind, promoted, hour, total in self.db.execute(
            "SELECT post_id, type, promoted, at / 3600 AS hour, SUM(count) FROM events "
            f"WHERE post_id IN ({marks}) AND at >= ? AND at < ? "
            "GROUP BY post_id, type, promoted, hour",
            [*ids, start, end],
        ):
            for metric in _metrics_of(kind, promoted):
                values = series.get((post_id, metric))
                if values is not None:
                    values[hour - first] += total
        return series


def _metrics_of(kind: str, promoted) -> list[str]:
    """The metrics an event counts towards: organic impressions only; engagements derived."""
    out = []
    if kind != "other" and not (kind == "impressions" and promoted):
        out.append(kind)
    if kind not in NON_INTERACTION:
        out.append("engagements")
    return out


def _group(levels, pairs, hours, cells, in_day):
    """Nest (post, metric, value) pairs by the grouping levels; leaves are strings.

    `hours` are the window's hour numbers (None on /totals); `cells` the indexes into each
    series under the current node (None: all of them).
    """
    if not levels:
        if hours is None:
            return str(sum(v for _, _, v in pairs))
        index = range(len(hours)) if cells is None else cells
        return str(sum(v[i] for _, _, v in pairs for i in index))
    level, rest = levels[0], levels[1:]
    if level in ("tweet.id", "engagement.type"):
        position = 0 if level == "tweet.id" else 1
        split: dict[str, list] = {}
        for pair in pairs:
            split.setdefault(pair[position], []).append(pair)
        return {key: _group(rest, group, hours, cells, in_day) for key, group in split.items()}
    index = list(range(len(hours))) if cells is None else list(cells)
    if level == "engagement.day":
        days: dict[str, list[int]] = {}
        for i in index:
            days.setdefault(_day_key(hours[i]), []).append(i)
        return {day: _group(rest, pairs, hours, cells, True) for day, cells in days.items()}
    # engagement.hour: within a day one cell each; alone, every cell of that hour of day
    if in_day:
        if not rest:
            sums = [sum(v[i] for _, _, v in pairs) for i in index]
            return {f"{hours[i] % 24:02d}": str(n) for i, n in zip(index, sums, strict=True)}
        return {f"{hours[i] % 24:02d}": _group(rest, pairs, hours, [i], True) for i in index}
    profile: dict[str, list[int]] = {}
    for i in index:
        profile.setdefault(f"{hours[i] % 24:02d}", []).append(i)
    return {key: _group(rest, pairs, hours, profile[key], False) for key in sorted(profile)}


# -- the ASGI application -------------------------------------------------------------------
_ENDPOINTS = {
    "/insights/engagement/totals": "totals",
    "/insights/engagement/28hr": "28hr",
    "/insights/engagement/historical": "historical",
}
_state: dict[str, Naive] = {}


def _naive() -> Naive:
    if "naive" not in _state:
        _state["naive"] = Naive(os.environ["NAIVE_DB"], _parse(os.environ["NAIVE_NOW"]))
    return _state["naive"]


async def _send(send, status: int, document: object, accept: str) -> None:
    body = orjson.dumps(document)
    headers = [(b"content-type", b"application/json")]
    if "gzip" in accept:
        compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
        body = compressor.compress(body) + compressor.flush()
        headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _naive()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    accept = ""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            accept = value.decode("latin-1").lower()
    path, method = scope["path"], scope["method"]
    if path == "/health" and method == "GET":
        return await _send(send, 200, {"status": "ok"}, accept)
    endpoint = _ENDPOINTS.get(path)
    if endpoint is None or method != "POST":
        return await _send(send, 404, {"errors": [f"Not found: {path}"]}, accept)
    try:
        document = _naive().answer(endpoint, orjson.loads(b"".join(chunks)))
    except (BadRequest, ValueError, TypeError, KeyError, AttributeError) as error:
        return await _send(send, 400, {"errors": [str(error)]}, accept)
    await _send(send, 200, document, accept)


# -- command line ---------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    load_cmd = commands.add_parser("load", help="one INSERT per record into a raw-events table")
    load_cmd.add_argument("source")
    load_cmd.add_argument("--store", required=True, help="sqlite:////abs.db or postgresql://...")
    load_cmd.add_argument("--limit", type=int, help="stop after this many events")
    serve_cmd = commands.add_parser("serve", help="answer the three endpoints from a SQLite db")
    serve_cmd.add_argument("--db", required=True)
    serve_cmd.add_argument("--now", required=True)
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8082)
    serve_cmd.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.command == "load":
        posts, events, seconds = load(args.source, args.store, args.limit)
        print(
            f"{args.source}: {posts:,} posts, {events:,} events inserted one statement each "
            f"in {seconds:.2f} s"
        )
        return
    import uvicorn

    os.environ["NAIVE_DB"] = os.path.abspath(args.db)
    os.environ["NAIVE_NOW"] = args.now
    uvicorn.run(
        "naive:app",
        app_dir=os.path.dirname(os.path.abspath(__file__)),
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    sys.exit(main())
