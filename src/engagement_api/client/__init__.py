"""A client of the Engagement API for any number of posts, from our server or X's.

    from engagement_api.client import EngagementClient

    with EngagementClient.from_env() as client:          # or EngagementClient(base_url, ...)
        result = client.totals(ids, ["favorites", "retweets"])
        result.to_csv("totals.csv")
        print(result.top("favorites", 10))

It needs only the standard library and its extra (`pip install 'engagement-api[client]'`:
httpx, oauthlib, orjson; pyarrow for Parquet): nothing of the server. Names are loaded on
first use, so that `engagement-api client --help` works even without the extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import X_HOST
    from .config import Credentials
    from .core import AsyncEngagementClient, Progress
    from .errors import (
        ApiError,
        ClientError,
        ForbiddenPosts,
        RetryBudgetExhausted,
        TransportError,
        WaitRequired,
    )
    from .pacing import RetryPolicy, Wait
    from .result import Result, Stats
    from .sync import EngagementClient
    from .top import TopPosts

_WHERE = {
    "X_HOST": "api",
    "Credentials": "config",
    "AsyncEngagementClient": "core",
    "Progress": "core",
    "ApiError": "errors",
    "ClientError": "errors",
    "ForbiddenPosts": "errors",
    "RetryBudgetExhausted": "errors",
    "TransportError": "errors",
    "WaitRequired": "errors",
    "RetryPolicy": "pacing",
    "Wait": "pacing",
    "Result": "result",
    "Stats": "result",
    "EngagementClient": "sync",
    "TopPosts": "top",
}
__all__ = [
    "X_HOST",
    "ApiError",
    "AsyncEngagementClient",
    "ClientError",
    "Credentials",
    "EngagementClient",
    "ForbiddenPosts",
    "Progress",
    "Result",
    "RetryBudgetExhausted",
    "RetryPolicy",
    "Stats",
    "TopPosts",
    "TransportError",
    "Wait",
    "WaitRequired",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
