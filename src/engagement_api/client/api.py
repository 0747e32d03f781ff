"""What the client knows of the documented Engagement API: hosts, paths, id limits, metrics,
grouping values, windows and the wire texts it acts on.

The client is a separate program from the server (it talks to X's host as well as ours), so
it keeps its own copy of these few facts instead of importing the server's `spec`; a test
holds the two copies against each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

X_HOST = "https://data-api.x.com"  # the documented host (003)

TOTALS_METRICS: tuple[str, ...] = (
    "impressions",
    "engagements",
    "favorites",
    "retweets",
    "quote_tweets",
    "replies",
    "video_views",
)
# Reachable with app-only auth (a bearer token, or consumer key and secret only) on /totals.
APP_ONLY_METRICS: tuple[str, ...] = (
    "favorites",
    "retweets",
    "quote_tweets",
    "replies",
    "video_views",
)
SERIES_METRICS: tuple[str, ...] = (
    "impressions",
    "engagements",
    "favorites",
    "retweets",
    "replies",
    "video_views",
    "media_views",
    "media_engagements",
    "url_clicks",
    "hashtag_clicks",
    "detail_expands",
    "permalink_clicks",
    "app_install_attempts",
    "app_opens",
    "email_tweet",
    "user_follows",
    "user_profile_clicks",
)

TWEET_ID = "tweet.id"
ENGAGEMENT_TYPE = "engagement.type"
ENGAGEMENT_DAY = "engagement.day"
ENGAGEMENT_HOUR = "engagement.hour"
MAX_GROUPINGS = 3


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str  # "totals", "28hr", "historical"
    path: str
    max_ids: int
    metrics: tuple[str, ...]
    group_by: tuple[str, ...]
    takes_window: bool


TOTALS = Endpoint(
    "totals", "/insights/engagement/totals", 250, TOTALS_METRICS, (TWEET_ID, ENGAGEMENT_TYPE), False
)
_SERIES_GROUP_BY = (TWEET_ID, ENGAGEMENT_TYPE, ENGAGEMENT_DAY, ENGAGEMENT_HOUR)
HOURS28 = Endpoint("28hr", "/insights/engagement/28hr", 25, SERIES_METRICS, _SERIES_GROUP_BY, False)
HISTORICAL = Endpoint(
    "historical", "/insights/engagement/historical", 25, SERIES_METRICS, _SERIES_GROUP_BY, True
)
ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in (TOTALS, HOURS28, HISTORICAL)}

HOUR = 3600
DAY = 24 * HOUR
HISTORICAL_MAX = 28 * DAY  # "up to 4 weeks" per request
HISTORICAL_MIN_START = int(datetime(2014, 9, 1, tzinfo=UTC).timestamp())

# Answer keys besides the groupings.
START_KEY, END_KEY, ERRORS_KEY = "start", "end", "errors"
UNAVAILABLE_KEY = "unavailable_tweet_ids"
UNSUPPORTED_IMPRESSIONS_KEY = "unsupported_for_impressions_engagements_tweet_ids"
UNSUPPORTED_VIDEO_KEY = "unsupported_for_video_views_tweet_ids"
PARTIAL_KEYS: tuple[str, ...] = (
    UNAVAILABLE_KEY,
    UNSUPPORTED_IMPRESSIONS_KEY,
    UNSUPPORTED_VIDEO_KEY,
)
RESERVED_KEYS = frozenset({START_KEY, END_KEY, ERRORS_KEY, *PARTIAL_KEYS})

# Wire texts the client acts on (003, 000).
PROTECTED_TEXT = "Tweet ID(s) are unavailable"  # a 400 naming no id
UNAVAILABLE_TEXT = "{n} Tweet ID(s) are unavailable"
FORBIDDEN_TWEETS_PREFIX = "Forbidden to access tweets"

# Statuses worth another try: the allowance (429) and the server faults of 003's table.
RETRY_STATUSES = frozenset({429, 500, 502, 503})
LIMIT_HEADER = "x-per-minute-limit"
REMAINING_HEADER = "x-per-minute-remaining"
