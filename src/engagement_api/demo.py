"""The demo: seed a store with synthetic posts and an approved app, and say how to call it."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from . import simulate
from .auth import bearer, credentials
from .ingest import IngestSummary, ingest_records
from .spec import HISTORICAL, HOUR, HOURS28, TOTALS
from .store import AccessToken, App, Store
from .times import format_instant

DEMO_APP = "demo"
DEMO_HANDLE = "XDevelopers"
SEEDED_KEY = "demo_seeded_at"


@dataclass(frozen=True, slots=True)
class DemoCredentials:
    app: App
    token: AccessToken
    handle: str
    bearer_token: str
    own_post_ids: list[str]
    public_post_ids: list[str]


def seed(store: Store, now: float) -> IngestSummary | None:
    """Ingest the demo data once per store; None when it was already there."""
    if store.get_meta(SEEDED_KEY):
        return None
    records = list(simulate.demo_records(now))
    summary = ingest_records(store, records, key=f"demo:{int(now) // HOUR}", now=now)
    store.set_meta(SEEDED_KEY, format_instant(now))
    return summary


def demo_credentials(store: Store, wall_now: float) -> DemoCredentials:
    """The demo app (created once) and a user token for @XDevelopers, plus a fresh bearer."""
    app = next((a for a in store.list_apps() if a.name == DEMO_APP), None)
    if app is None:
        app = store.create_app(
            DEMO_APP, credentials.consumer_key(), credentials.consumer_secret(), True, 6000
        )
    user = store.find_user(DEMO_HANDLE)
    token = AccessToken(
        credentials.access_token(user.id), credentials.access_token_secret(), app.id, user.id
    )
    store.create_access_token(token)
    own, public = _sample_posts(store, user.id)
    return DemoCredentials(
        app, token, user.handle, bearer.issue(store, app, int(wall_now)), own, public
    )


def _sample_posts(store: Store, user_id: int) -> tuple[list[str], list[str]]:
    """Recent public posts: three of the demo user's, three of other authors'."""
    usable = [p for p in store.recent_posts(200) if not (p.protected or p.deleted)]
    own = [str(p.id) for p in usable if p.author_id == user_id][:3]
    public = [str(p.id) for p in usable if p.author_id != user_id][:3]
    return own, public


def describe(creds: DemoCredentials, base_url: str) -> str:
    """Ready-to-paste credentials and curl lines that work against the server at base_url."""
    keys = {
        "app_id": str(creds.app.id),
        "consumer_key": creds.app.consumer_key,
        "consumer_secret": creds.app.consumer_secret,
        "access_token": creds.token.token,
        "access_token_secret": creds.token.secret,
        "user_id": str(creds.token.user_id),
        "screen_name": creds.handle,
        "bearer_token": creds.bearer_token,
    }
    public_body = json.dumps(
        {
            "tweet_ids": creds.public_post_ids + creds.own_post_ids[:1],
            "engagement_types": ["favorites", "retweets", "replies", "quote_tweets", "video_views"],
            "groupings": {"perTweetMetricsUnowned": {"group_by": ["tweet.id", "engagement.type"]}},
        }
    )
    owned_body = json.dumps(
        {
            "tweet_ids": creds.own_post_ids,
            "engagement_types": ["impressions", "engagements", "favorites", "url_clicks"],
            "groupings": {
                "by-post": {"group_by": ["tweet.id", "engagement.type"]},
                "hourly": {
                    "group_by": ["tweet.id", "engagement.type", "engagement.day", "engagement.hour"]
                },
            },
        }
    )
    historical_body = json.dumps(
        {
            "tweet_ids": creds.own_post_ids,
            "engagement_types": ["impressions", "engagements", "detail_expands"],
            "groupings": {"by-day": {"group_by": ["engagement.type", "engagement.day"]}},
        }
    )
    sign = (
        "engagement-api oauth-header --method POST --url {url} "
        f"--consumer-key {creds.app.consumer_key} --consumer-secret {creds.app.consumer_secret} "
        f"--token {creds.token.token} --token-secret {creds.token.secret}"
    )
    lines = [
        "Credentials (app approved for the Engagement API; user @" + creds.handle + "):",
        json.dumps(keys, indent=2),
        "",
        "# Public metrics of any posts, app-only (bearer token):",
        f"curl -s --compressed -X POST {base_url}{TOTALS.path} \\",
        f"  -H 'Authorization: Bearer {creds.bearer_token}' \\",
        "  -H 'Content-Type: application/json' \\",
        f"  -d {shlex.quote(public_body)}",
    ]
    for title, endpoint, body in (
        (
            f"# @{creds.handle}'s own posts, user context (OAuth 1.0a), last 28 hours:",
            HOURS28,
            owned_body,
        ),
        ("# ... and the previous four weeks, by day:", HISTORICAL, historical_body),
    ):
        url = base_url + endpoint.path
        lines += [
            "",
            title,
            f"curl -s --compressed -X POST {url} \\",
            f'  -H "Authorization: $({sign.format(url=url)})" \\',
            "  -H 'Content-Type: application/json' \\",
            f"  -d {shlex.quote(body)}",
        ]
    return "\n".join(lines)
