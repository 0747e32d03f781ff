"""Realistic synthetic engagement, seeded and reproducible.

Post popularity is heavy-tailed (log-normal), activity decays with post age and follows the
time of day; metrics are fractions of impressions; some posts are promoted, protected or
deleted, and some carry a video that reposts share. Recent hours get hourly records, older
days one daily record, so the demo stays small while every endpoint has something to show.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from .ids import snowflake_for
from .spec import DAY, HOUR
from .times import floor_hour, format_instant

# Events per impression, by type (video_views and media_views only on posts with media).
RATES: dict[str, float] = {
    "favorites": 0.020,
    "retweets": 0.005,
    "quote_tweets": 0.001,
    "replies": 0.003,
    "url_clicks": 0.008,
    "hashtag_clicks": 0.002,
    "detail_expands": 0.015,
    "permalink_clicks": 0.002,
    "user_profile_clicks": 0.004,
    "user_follows": 0.0005,
    "media_engagements": 0.006,
    "app_install_attempts": 0.0002,
    "app_opens": 0.0003,
    "email_tweet": 0.0001,
    "other": 0.003,
}
VIDEO_RATE = 0.12
MEDIA_RATE = 0.25
HOURLY_FOR = 72  # hours after creation with hourly records; daily after that


@dataclass(frozen=True, slots=True)
class Author:
    id: int
    handle: str
    protected: bool = False


DEMO_AUTHORS = (
    Author(2244994945, "XDevelopers"),
    Author(783214, "X"),
    Author(3805104374, "XData"),
    Author(17874544, "newsdesk_daily"),
    Author(95731075, "sportsclips"),
    Author(1491205301, "cafe_lumiere"),
    Author(2880154412, "ada_codes"),
    Author(50393960, "private_notes", protected=True),
)

# The two @XDevelopers posts of the getting-started guide, with its documented totals.
GUIDE_POSTS = {
    1260294888811347969: {
        "favorites": 17111,
        "quote_tweets": 3254,
        "replies": 1828,
        "retweets": 5218,
    },
    850006245121695744: {"favorites": 492, "quote_tweets": 66, "replies": 42, "retweets": 324},
}


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _diurnal(hour_start: int) -> float:
    hour_of_day = (hour_start // HOUR) % 24
    return 0.55 + 0.45 * math.sin((hour_of_day - 9) / 24 * 2 * math.pi)


def demo_records(now: float, seed: int = 7, posts_per_author: int = 16) -> Iterator[dict]:
    """Posts and engagement records for the demo store, all at or before `now`."""
    rng = random.Random(seed)
    current = floor_hour(now)
    yield from _guide_records(now)
    videos: list[str] = []
    sequence = 0
    for author in DEMO_AUTHORS:
        for n in range(posts_per_author):
            sequence += 1
            # Mostly recent posts; every fifth one is older than the 90-day limit.
            age_days = rng.uniform(95, 150) if n % 5 == 4 else rng.expovariate(1 / 12)
            created_ms = int((now - age_days * DAY - rng.uniform(0, HOUR)) * 1000)
            post_id = snowflake_for(created_ms, sequence)
            has_video = rng.random() < 0.25
            video_id = None
            if has_video:
                reuse = videos and rng.random() < 0.35  # a repost of an earlier video
                video_id = rng.choice(videos) if reuse else f"video-{len(videos) + 1}"
                if not reuse:
                    videos.append(video_id)
            post = {
                "record": "post",
                "id": str(post_id),
                "author_id": str(author.id),
                "handle": author.handle,
                "created_at": format_instant(created_ms / 1000),
                "protected": author.protected or (author.handle == "X" and n == 3),
            }
            if video_id:
                post["video_id"] = video_id
            yield post
            scale = rng.lognormvariate(5.0, 1.4)  # mean hourly impressions at first
            promoted = rng.random() < 0.15
            yield from _activity(
                rng, post_id, created_ms / 1000, current, scale, has_video, promoted
            )
            if n % 11 == 7:  # a few posts are deleted after gathering engagement
                yield {**post, "deleted": True}


def _guide_records(now: float) -> Iterator[dict]:
    author = DEMO_AUTHORS[0]
    for post_id, totals in GUIDE_POSTS.items():
        created = (post_id >> 22) + 1288834974657
        yield {
            "record": "post",
            "id": str(post_id),
            "author_id": str(author.id),
            "handle": author.handle,
        }
        at = format_instant(min(created / 1000 + 2 * HOUR, now))
        for kind, count in totals.items():
            yield {
                "record": "engagement",
                "post_id": str(post_id),
                "type": kind,
                "at": at,
                "count": count,
            }


def _activity(rng, post_id, created, current, scale, has_video, promoted) -> Iterator[dict]:
    start = floor_hour(created)
    hour = start
    while hour <= current:
        age_hours = (hour - start) // HOUR
        step = HOUR if age_hours < HOURLY_FOR else DAY
        span = min(step, current + HOUR - hour) // HOUR
        decay = math.exp(-age_hours / 30) + 0.02 * math.exp(-age_hours / 2000)
        mean = scale * decay * span * (_diurnal(hour) if step == HOUR else 1.0)
        at = format_instant(max(hour, created) if step == HOUR else min(hour + DAY // 2, current))
        impressions = _poisson(rng, mean)
        for kind, count in _counts(rng, impressions, has_video, promoted):
            record = {
                "record": "engagement",
                "post_id": str(post_id),
                "type": kind,
                "at": at,
                "count": count,
            }
            if kind == "impressions" and count and promoted and rng.random() < 0.5:
                record["promoted"] = True
            yield record
        hour += step


def _counts(rng, impressions, has_video, promoted) -> Iterator[tuple[str, int]]:
    if impressions:
        yield "impressions", impressions
    for kind, rate in RATES.items():
        count = _poisson(rng, impressions * rate * (1.3 if promoted else 1.0))
        if count:
            yield kind, count
    if has_video:
        for kind, rate in (("video_views", VIDEO_RATE), ("media_views", MEDIA_RATE)):
            count = _poisson(rng, impressions * rate)
            if count:
                yield kind, count


# -- bulk synthetic data for benchmarks: `engagement-api simulate` -----------------------------
EVENT_MIX: dict[str, float] = {
    "impressions": 0.78,
    "favorites": 0.05,
    "retweets": 0.012,
    "quote_tweets": 0.003,
    "replies": 0.008,
    "url_clicks": 0.02,
    "hashtag_clicks": 0.005,
    "detail_expands": 0.03,
    "permalink_clicks": 0.005,
    "user_profile_clicks": 0.01,
    "user_follows": 0.001,
    "media_engagements": 0.015,
    "app_install_attempts": 0.0005,
    "app_opens": 0.0007,
    "email_tweet": 0.0003,
    "other": 0.008,
    "media_views": 0.02,
    "video_views": 0.0308,
}
EVENTS_PER_BATCH = 1_000_000


def _schema():
    import pyarrow as pa

    ts = pa.timestamp("s", tz="UTC")
    return pa.schema(
        [
            ("record", pa.string()),
            ("id", pa.string()),
            ("author_id", pa.string()),
            ("handle", pa.string()),
            ("created_at", ts),
            ("protected", pa.bool_()),
            ("deleted", pa.bool_()),
            ("video_id", pa.string()),
            ("post_id", pa.string()),
            ("type", pa.string()),
            ("at", ts),
            ("count", pa.int64()),
            ("promoted", pa.bool_()),
        ]
    )


def synthetic_batches(posts: int, events: int, now: float, seed: int = 1):
    """Arrow record batches: every post record first, then `events` events in time order.

    Heavy-tailed per post (log-normal popularity), decaying with post age (most activity in
    the first hours, a long tail over weeks), diurnal, every metric; seeded and reproducible.
    """
    import numpy as np
    import pyarrow as pa

    from .ids import TWITTER_EPOCH_MS

    rng = np.random.default_rng(seed)
    schema = _schema()
    now_s = int(now)
    authors = max(1, posts // 25)
    rank_weights = 1.0 / np.arange(1, authors + 1) ** 1.1
    author = rng.choice(authors, size=posts, p=rank_weights / rank_weights.sum())
    recent = rng.random(posts) < 0.7
    age_days = np.where(recent, rng.exponential(10, posts), rng.uniform(0, 150, posts))
    created = (now_s - age_days * DAY - rng.uniform(0, HOUR, posts)).astype(np.int64)
    ids = ((created * 1000 - TWITTER_EPOCH_MS) << 22) | (np.arange(posts) & 0x3FFFFF)
    has_video = rng.random(posts) < 0.2
    video_number = np.cumsum(has_video)
    reuse = has_video & (rng.random(posts) < 0.25) & (video_number > 1)
    video_number = np.where(reuse, rng.integers(1, np.maximum(video_number, 2)), video_number)
    video = np.where(has_video, np.char.add("v", video_number.astype(str)), None)
    author_ids = (10_000_000 + author).astype(str)
    post_table = pa.table(
        {
            "record": pa.array(["post"] * posts),
            "id": pa.array(ids.astype(str)),
            "author_id": pa.array(author_ids),
            "handle": pa.array(np.char.add("user", author.astype(str))),
            "created_at": pa.array(created, pa.timestamp("s", tz="UTC")),
            "protected": pa.array(rng.random(posts) < 0.01),
            "deleted": pa.array(rng.random(posts) < 0.005),
            "video_id": pa.array(video.tolist(), pa.string()),
        }
    )
    empty = {
        name: pa.nulls(posts, schema.field(name).type)
        for name in schema.names
        if name not in post_table.column_names
    }
    yield (
        pa.table({**{n: post_table[n] for n in post_table.column_names}, **empty})
        .select(schema.names)
        .cast(schema)
        .to_batches()[0]
    )

    popularity = rng.lognormal(0, 1.6, posts) * np.where(recent, 1.0, 0.3)
    cdf = np.cumsum(popularity) / popularity.sum()
    kinds = list(EVENT_MIX)
    kind_p = np.array(list(EVENT_MIX.values()))
    kind_p /= kind_p.sum()
    drawn: list = []
    have = 0
    while have < events:
        want = int((events - have) * 1.6) + 1000
        post = np.minimum(np.searchsorted(cdf, rng.random(want)), posts - 1)
        age = np.where(
            rng.random(want) < 0.8,
            rng.exponential(12 * HOUR, want),
            rng.exponential(240 * HOUR, want),
        )
        at = created[post] + age.astype(np.int64)
        late = at > now_s
        at[late] = created[post][late] + (
            rng.random(late.sum()) * (now_s - created[post][late])
        ).astype(np.int64)
        hour_of_day = (at // HOUR) % 24
        keep = rng.random(want) < 0.55 + 0.45 * np.sin((hour_of_day - 9) / 24 * 2 * np.pi)
        drawn.append((post[keep], at[keep]))
        have += int(keep.sum())
    post = np.concatenate([p for p, _ in drawn])[:events]
    at = np.concatenate([a for _, a in drawn])[:events]
    order = np.argsort(at, kind="stable")
    post, at = post[order], at[order]
    kind = rng.choice(len(kinds), size=events, p=kind_p)
    video_kind = kinds.index("video_views")
    kind[(kind == video_kind) & ~has_video[post]] = kinds.index("impressions")
    id_strings = ids.astype(str)
    kind_names = np.array(kinds)
    for start in range(0, events, EVENTS_PER_BATCH):
        part = slice(start, min(start + EVENTS_PER_BATCH, events))
        n = part.stop - part.start
        columns = {
            "record": pa.array(["engagement"] * n),
            "post_id": _array(id_strings[post[part]]),
            "type": _array(kind_names[kind[part]]),
            "at": pa.array(at[part], pa.timestamp("s", tz="UTC")),
            "count": pa.array(np.ones(n, dtype=np.int64)),
            "promoted": pa.array(rng.random(n) < 0.08),
        }
        yield pa.RecordBatch.from_pydict(
            {
                name: columns.get(name, pa.nulls(n, schema.field(name).type))
                for name in schema.names
            },
            schema=schema,
        )


def _array(values):
    """An Arrow array of a NumPy string array (which Arrow may hand back in chunks)."""
    import pyarrow as pa

    array = pa.array(values, pa.string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def write_synthetic(path: str, posts: int, events: int, now: float, seed: int = 1) -> int:
    """Write `simulate` output to Parquet or NDJSON (by the file name); the records written."""
    import orjson
    import pyarrow.parquet as pq

    written = 0
    if path.lower().endswith((".parquet", ".pq")):
        with pq.ParquetWriter(path, _schema(), compression="zstd") as writer:
            for batch in synthetic_batches(posts, events, now, seed):
                writer.write_batch(batch)
                written += batch.num_rows
        return written
    with open(path, "wb") as out:
        for batch in synthetic_batches(posts, events, now, seed):
            for row in batch.to_pylist():
                record = {
                    k: (format_instant(v.timestamp()) if k in ("at", "created_at") else v)
                    for k, v in row.items()
                    if v is not None
                }
                out.write(orjson.dumps(record) + b"\n")
                written += 1
    return written
