"""The one exception the request path raises: an HTTP status with its `errors` texts."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, *messages: str, headers: dict[str, str] | None = None):
        super().__init__(f"{status}: {'; '.join(messages)}")
        self.status = status
        self.messages = list(messages)
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)
