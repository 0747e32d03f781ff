"""The documented contract as data: metrics, endpoints, limits and messages.

Every number and every wire text of the seed documents lives here once; validation, access
rules, the OpenAPI document and the tests read it from here (see shared/spec/RULES.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    code: int  # stored in the database; never renumber
    on_totals: bool
    on_timeseries: bool
    app_only_on_totals: bool  # reachable with app-only auth on /totals
    max_age_days: int | None  # older posts go to an "unsupported" list
    age_rule_on_totals_only: bool  # the 90-day rule applies to /totals only
    zero_before_2015_09_15: bool  # time series read "0" before 2015-09-15


def _m(name, code, totals, series, app, age=None, age_totals_only=False, zero=False) -> Metric:
    return Metric(name, code, totals, series, app, age, age_totals_only, zero)


METRICS: tuple[Metric, ...] = (
    _m("impressions", 1, True, True, False, 90, True),
    _m("engagements", 2, True, True, False, 90, True),
    _m("favorites", 3, True, True, True, zero=True),
    _m("retweets", 4, True, True, True, zero=True),
    _m("quote_tweets", 5, True, False, True),
    _m("replies", 6, True, True, True, zero=True),
    _m("video_views", 7, True, True, True, 1800),
    _m("media_views", 8, False, True, False),
    _m("media_engagements", 9, False, True, False),
    _m("url_clicks", 10, False, True, False),
    _m("hashtag_clicks", 11, False, True, False),
    _m("detail_expands", 12, False, True, False),
    _m("permalink_clicks", 13, False, True, False),
    _m("app_install_attempts", 14, False, True, False),
    _m("app_opens", 15, False, True, False),
    _m("email_tweet", 16, False, True, False),
    _m("user_follows", 17, False, True, False),
    _m("user_profile_clicks", 18, False, True, False),
)
METRIC_BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}
METRIC_BY_CODE: dict[int, Metric] = {m.code: m for m in METRICS}
# The metrics other code must name: engagements are derived from the other events; video
# views are also kept per video, summed over every post that carries it.
ENGAGEMENTS = METRIC_BY_NAME["engagements"]
VIDEO_VIEWS = METRIC_BY_NAME["video_views"]

# Event types accepted in ingested records: every metric but the derived `engagements`,
# plus `other`, an interaction with no metric of its own.
OTHER_EVENT = "other"
EVENT_TYPES: frozenset[str] = frozenset(
    [m.name for m in METRICS if m.name != "engagements"] + [OTHER_EVENT]
)
# Views, not interactions: they never count towards `engagements` (003, October 2017 change).
NON_INTERACTION_EVENTS: frozenset[str] = frozenset({"impressions", "media_views", "video_views"})

TWEET_ID = "tweet.id"
ENGAGEMENT_TYPE = "engagement.type"
ENGAGEMENT_DAY = "engagement.day"
ENGAGEMENT_HOUR = "engagement.hour"
FOUR_VALUE_ORDERS: tuple[tuple[str, ...], ...] = (
    (TWEET_ID, ENGAGEMENT_TYPE, ENGAGEMENT_DAY, ENGAGEMENT_HOUR),
    (ENGAGEMENT_TYPE, TWEET_ID, ENGAGEMENT_DAY, ENGAGEMENT_HOUR),
)
MAX_GROUPINGS = 3


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str  # "totals", "28hr", "historical"
    path: str
    max_ids: int
    metrics: tuple[str, ...]
    group_by: tuple[str, ...]
    timeseries: bool
    takes_window: bool  # honours start/end in the body

    @property
    def label(self) -> str:
        return "/" + self.name


_SERIES_METRICS = tuple(m.name for m in METRICS if m.on_timeseries)
_SERIES_GROUP_BY = (TWEET_ID, ENGAGEMENT_TYPE, ENGAGEMENT_DAY, ENGAGEMENT_HOUR)

TOTALS = Endpoint(
    "totals",
    "/insights/engagement/totals",
    250,
    tuple(m.name for m in METRICS if m.on_totals),
    (TWEET_ID, ENGAGEMENT_TYPE),
    False,
    False,
)
HOURS28 = Endpoint(
    "28hr", "/insights/engagement/28hr", 25, _SERIES_METRICS, _SERIES_GROUP_BY, True, False
)
HISTORICAL = Endpoint(
    "historical",
    "/insights/engagement/historical",
    25,
    _SERIES_METRICS,
    _SERIES_GROUP_BY,
    True,
    True,
)
ENDPOINTS: tuple[Endpoint, ...] = (TOTALS, HOURS28, HISTORICAL)
# Ours: the @handle usage the FAQ says X has no API for (issue "Contracts that hold").
USAGE_PATH = "/insights/engagement/usage"

# Time rules.
WINDOW_28HR_HOURS = 28  # whole hours before the current one; 29 buckets in all
HISTORICAL_MAX = 28 * DAY  # "up to 4 weeks"
HISTORICAL_MIN_START = int(datetime(2014, 9, 1, tzinfo=UTC).timestamp())
ZERO_BEFORE = int(datetime(2015, 9, 15, tzinfo=UTC).timestamp())

# Response keys that a grouping may not be named after.
START_KEY = "start"
END_KEY = "end"
ERRORS_KEY = "errors"
UNAVAILABLE_KEY = "unavailable_tweet_ids"
UNSUPPORTED_IMPRESSIONS_KEY = "unsupported_for_impressions_engagements_tweet_ids"
UNSUPPORTED_VIDEO_KEY = "unsupported_for_video_views_tweet_ids"
RESERVED_KEYS = frozenset(
    {
        START_KEY,
        END_KEY,
        ERRORS_KEY,
        UNAVAILABLE_KEY,
        UNSUPPORTED_IMPRESSIONS_KEY,
        UNSUPPORTED_VIDEO_KEY,
    }
)

# Rate limit headers (FAQ), and the IETF RateLimit fields beside them.
LIMIT_HEADER = "x-per-minute-limit"
REMAINING_HEADER = "x-per-minute-remaining"
RATE_WINDOW = 60  # "rate limited by minute": fixed calendar minutes of the wall clock
RATE_POLICY = "per-minute"  # the policy's name in RateLimit-Policy / RateLimit


class Messages:
    """Wire texts. The documented ones are verbatim; the rest are ours (RULES.md D7, D27, D28)."""

    # Documented (003, 000, 004).
    PROTECTED = "Tweet ID(s) are unavailable"
    UNAVAILABLE = "{n} Tweet ID(s) are unavailable"
    OLD_IMPRESSIONS = (
        "Impressions & engagements for tweets older than 90 days ({cutoff}) are not supported"
    )
    OLD_VIDEO_VIEWS = "Video views for tweets older than 1800 days ({cutoff}) are not supported"
    FORBIDDEN_TWEETS = "Forbidden to access tweets: {ids}"
    NOT_AUTHENTICATED = "Your account could not be authenticated. Reason: {reason}"
    UNKNOWN_AUTH_TYPE = "Unknown Authorization Type"
    TOKEN_NOT_FOUND = "Access token not found"
    # Ours, following the documented patterns.
    FORBIDDEN_METRICS = "Forbidden to access metrics: {metrics}"
    APP_NOT_AUTHORIZED = "Your application id is not authorized."
    UNKNOWN_CONSUMER = "Unknown consumer key"
    BAD_SIGNATURE = "Invalid signature"
    BAD_TIMESTAMP = "Timestamp out of range"
    NONCE_USED = "Nonce already used"
    BAD_SIGNATURE_METHOD = "Unsupported signature method"
    MALFORMED_HEADER = "Malformed OAuth header"
    BAD_BEARER = "Invalid or expired token"
    BAD_CLIENT_CREDENTIALS = "Unable to verify your credentials"
    RATE_LIMITED = "Exceeded rate limit: at most {limit} requests per minute"
    CONTRACT_UNAVAILABLE = "Service Unavailable: request allowances cannot be counted; retry"
    USAGE_UNAVAILABLE = "Service Unavailable: @handle usage cannot be recorded; retry"
    # The 3-legged flow: X's text for an unregistered callback, then ours.
    CALLBACK_NOT_APPROVED = "Callback URL not approved for this client application."
    CALLBACK_REQUIRED = "oauth_callback is required: a registered callback URL, or oob"
    REQUEST_TOKEN_EXPIRED = (
        "This request token expired (they last 15 minutes): start the sign-in again"
    )
    REQUEST_TOKEN_PENDING = "This request token was not authorized by the user"
    REQUEST_TOKEN_DENIED = "The user denied this authorization"
    REQUEST_TOKEN_USED = "This request token was already exchanged for an access token"
    VERIFIER_REQUIRED = "oauth_verifier is required"
    WRONG_VERIFIER = "Invalid oauth_verifier for this request token"
    # The server errors of the response-code table (003), as a fault rule answers them.
    SERVER_ERRORS: ClassVar[dict[int, str]] = {
        500: "Internal Server Error: retry your request using an exponential backoff pattern",
        502: "Proxy Error: retry your request using an exponential backoff pattern",
        503: "Service Unavailable: retry your request using an exponential backoff pattern",
    }


# The partial-result lists about age, in the documented order (RULES.md section 7): (answer
# key, the metrics it speaks of, its message, their age limit in days).
AGE_LISTS: tuple[tuple[str, tuple[str, ...], str, int], ...] = tuple(
    (key, tuple(m.name for m in METRICS if m.max_age_days == days), message, days)
    for key, days, message in (
        (UNSUPPORTED_IMPRESSIONS_KEY, ENGAGEMENTS.max_age_days, Messages.OLD_IMPRESSIONS),
        (UNSUPPORTED_VIDEO_KEY, VIDEO_VIEWS.max_age_days, Messages.OLD_VIDEO_VIEWS),
    )
)

# OAuth 1.0a clock tolerance and nonce memory (RULES.md D11).
OAUTH_TIMESTAMP_WINDOW = 300
NONCE_TTL = 600
REQUEST_TOKEN_TTL = 15 * 60  # a 3-legged request token's life (issue 12)
