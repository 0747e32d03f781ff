"""Answering the Engagement API: the documented order of checks, then the answer."""

from .pipeline import Answer, EngagementRequest, Services, Trace, error_body, handle

__all__ = ["Answer", "EngagementRequest", "Services", "Trace", "error_body", "handle"]
