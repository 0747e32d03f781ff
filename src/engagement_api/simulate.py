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
