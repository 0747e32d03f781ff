"""Answering the Engagement API: the documented order of checks, then the answer."""

from .outcome import Answer, EngagementRequest, Trace, error_body, refusal
from .pipeline import Services, guarded, handle

__all__ = [
    "Answer",
    "EngagementRequest",
    "Services",
    "Trace",
    "error_body",
    "guarded",
    "handle",
    "refusal",
]
