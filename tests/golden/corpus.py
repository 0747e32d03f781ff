"""A fixed corpus of requests and the world they run against, for the byte-for-byte test.

`answers.jsonl.gz` holds, for every request of `requests()`, the status and the SHA-256 of the
body the server answered before the read path was rewritten (made by `make.py`). Nothing here
may change without making the answers anew from the code they were first made with.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

NOW = "2026-11-20T12:30:00Z"
ALICE, BOB, CAROL = 1001, 1002, 1003
_EPOCH_MS = 1288834974657
_NOW_S = int(datetime(2026, 11, 20, 12, 30, tzinfo=UTC).timestamp())


def _instant(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _snowflake(seconds: int, sequence: int) -> int:
    return ((seconds * 1000 - _EPOCH_MS) << 22) | sequence


def extra_records(seed: int = 20261201) -> list[dict]:
    """60 posts of three users over the last 120 days (and two very old ones), with events."""
    rng = random.Random(seed)
    records: list[dict] = []
    handles = {ALICE: "alice", BOB: "bob", CAROL: "carol"}
    posts = []
    for n in range(60):
        author = rng.choice(list(handles))
        created = _NOW_S - rng.randrange(0, 120 * 86400)
        if n < 2:
            created = _NOW_S - (1800 + rng.randrange(1, 300)) * 86400
        post_id = _snowflake(created, n)
        record = {
            "record": "post",
            "id": str(post_id),
            "author_id": str(author),
            "handle": handles[author],
        }
        if rng.random() < 0.3:
            record["video_id"] = f"golden-v{rng.randrange(8)}"
        if rng.random() < 0.05:
            record["protected"] = True
        if rng.random() < 0.05:
            record["deleted"] = True
        records.append(record)
        posts.append((post_id, created))
    types = [
        "impressions", "favorites", "retweets", "quote_tweets", "replies", "video_views",
        "media_views", "media_engagements", "url_clicks", "hashtag_clicks", "detail_expands",
        "permalink_clicks", "app_install_attempts", "app_opens", "email_tweet", "user_follows",
        "user_profile_clicks", "other",
    ]  # fmt: skip
    for post_id, created in posts:
        for _ in range(rng.randrange(0, 60)):
            # most activity soon after posting, some of it in the last 28 hours
            age = (
                int(rng.expovariate(1 / 86400))
                if rng.random() < 0.8
                else rng.randrange(0, 30 * 86400)
            )
            at = min(created + age, _NOW_S - rng.randrange(0, 7200))
            if at < created:
                continue
            records.append(
                {
                    "record": "engagement",
                    "post_id": str(post_id),
                    "type": rng.choice(types),
                    "at": _instant(at),
                    "count": rng.choice([1, 1, 2, 3, 7, 40, 1000]),
                    "promoted": rng.random() < 0.1,
                }
            )
    return records


def id_pools(records: list[dict]) -> dict[str, list[int]]:
    """Post ids by author handle, plus "protected" and "any" (every post id and an unknown one)."""
    last: dict[int, dict] = {}
    for r in records:
        if r["record"] == "post":
            last[int(r["id"])] = {**last.get(int(r["id"]), {}), **r}
    pools: dict[str, list[int]] = {"protected": [], "any": [*sorted(last), 1100000000000000099]}
    for post_id, r in sorted(last.items()):
        if r.get("protected"):
            pools["protected"].append(post_id)
        else:
            pools.setdefault(r["handle"], []).append(post_id)
    return pools


_TOTALS_METRICS = ["impressions", "engagements", "favorites", "retweets", "quote_tweets",
                   "replies", "video_views"]  # fmt: skip
_SERIES_ONLY = ["media_views", "media_engagements", "url_clicks", "hashtag_clicks",
                "detail_expands", "permalink_clicks", "app_install_attempts", "app_opens",
                "email_tweet", "user_follows", "user_profile_clicks"]  # fmt: skip
_LEVELS = ["tweet.id", "engagement.type", "engagement.day", "engagement.hour"]
AUTHS = ("alice", "bob", "bearer", "consumer")


def requests(pools: dict[str, list[int]], count: int = 3000, seed: int = 7) -> list[dict]:
    """{"endpoint", "auth", "body"}: mostly valid requests of every shape, some invalid ones."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        auth = rng.choice(AUTHS)
        app_only = auth in ("bearer", "consumer")
        endpoint = rng.choice(["totals"] * (12 if app_only else 2) + ["28hr", "historical"])
        limit = 250 if endpoint == "totals" else 25
        size = rng.choice([1, 1, 2, 3, 5, 8, 12]) if rng.random() > 0.02 else limit + 1
        own = pools["alice" if app_only else auth]
        if app_only:
            own = pools["alice"] + pools["bob"] + pools["carol"]
        chosen = [
            rng.choice(own) if rng.random() > 0.04 else rng.choice(pools["any"])
            for _ in range(size)
        ]
        if rng.random() < 0.01:
            chosen.append(rng.choice(pools["protected"]))
        tweet_ids: list = [str(i) if rng.random() > 0.1 else i for i in chosen]
        if rng.random() < 0.02:
            tweet_ids.append(rng.choice(["abc", "01", " 12 ", -5, 1.5, None, "9" * 20]))
        offered = _TOTALS_METRICS
        if endpoint != "totals":
            offered = [*_TOTALS_METRICS[:4], "replies", "video_views", *_SERIES_ONLY]
        if endpoint == "totals" and auth in ("bearer", "consumer") and rng.random() < 0.7:
            offered = ["favorites", "retweets", "quote_tweets", "replies", "video_views"]
        metrics = rng.sample(offered, rng.randrange(1, min(6, len(offered)) + 1))
        if rng.random() < 0.03:
            metrics.append(
                rng.choice(["likes", "other", "media_clicks", "url_clicks", "quote_tweets"])
            )
        groupings = {}
        for g in range(rng.choice([1, 1, 1, 2, 3])):
            allowed = _LEVELS[:2] if endpoint == "totals" and rng.random() > 0.02 else _LEVELS
            levels = rng.sample(allowed, rng.randrange(1, len(allowed) + 1))
            if rng.random() < 0.1:
                levels = [v.upper() if rng.random() < 0.5 else v for v in levels]
            groupings[rng.choice(["g", "per-post", "Grand Totals", "ts", "x y", "é"]) + str(g)] = {
                "group_by": levels
            }
        body: dict = {"tweet_ids": tweet_ids, "engagement_types": metrics, "groupings": groupings}
        if endpoint == "historical":
            for key in ("start", "end"):
                if rng.random() < 0.6:
                    back = rng.randrange(0, 40 * 86400)
                    value = (
                        _NOW_S - back
                        if key == "end"
                        else _NOW_S - back - rng.randrange(0, 30 * 86400)
                    )
                    body[key] = (
                        _instant(value)[:10]
                        if rng.random() < 0.3
                        else _instant(value + rng.randrange(0, 3600))
                    )
        if rng.random() < 0.01:
            body = rng.choice(
                [
                    {"tweet_ids": tweet_ids},
                    {**body, "groupings": {}},
                    {**body, "engagement_types": "x"},
                ]
            )
        out.append({"endpoint": endpoint, "auth": auth, "body": json.dumps(body)})
    return out
