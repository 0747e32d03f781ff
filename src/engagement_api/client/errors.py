"""What the client raises. Every error that ends a run carries the part already answered
(`partial`, a Result) so that nothing fetched is lost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import Result


class ClientError(Exception):
    """Base class of the client's errors."""

    partial: Result | None = None


class ApiError(ClientError):
    """The API refused a request in a way no retry can mend (400, 401, 403, 404, ...), or kept
    failing until the retries ran out."""

    def __init__(self, status: int, errors: list[str], endpoint: str = "") -> None:
        self.status = status
        self.errors = errors
        self.endpoint = endpoint
        where = f" on /{endpoint}" if endpoint else ""
        super().__init__(f"HTTP {status}{where}: " + "; ".join(errors or ["(no errors given)"]))


class ForbiddenPosts(ApiError):
    """403 `Forbidden to access tweets: <id>, ...`: the user context does not own these posts.
    Give `drop_forbidden=True` to leave them out and answer the rest."""

    def __init__(self, status: int, errors: list[str], endpoint: str, ids: list[str]) -> None:
        super().__init__(status, errors, endpoint)
        self.ids = ids


class WaitRequired(ClientError):
    """The client would have to pause for the allowance (a 429, or `x-per-minute-remaining`
    at 0) and was told not to (`wait=False`)."""

    def __init__(self, seconds: float, reason: str) -> None:
        self.seconds = seconds
        self.reason = reason
        super().__init__(f"would wait {seconds:.1f} s ({reason}); wait=False")


class RetryBudgetExhausted(ClientError):
    """More retries were needed than the run's retry budget allows."""

    def __init__(self, budget: int, last: BaseException | Any) -> None:
        self.budget = budget
        self.last = last
        super().__init__(f"retry budget of {budget} spent; last failure: {last}")


class TransportError(ClientError):
    """A request could not be sent or answered (connection refused, reset, timed out) after
    every retry."""
