"""The exceptions the request path raises: an HTTP status with its `errors` texts."""

from __future__ import annotations

from .spec import Messages


class ApiError(Exception):
    def __init__(self, status: int, *messages: str, headers: dict[str, str] | None = None):
        super().__init__(f"{status}: {'; '.join(messages)}")
        self.status = status
        self.messages = list(messages)
        self.headers = headers or {}


class Unauthorized(ApiError):
    """A 401 (RULES.md D7), with the signature base strings the server built, and the
    parameters it used, when a signature did not verify (shown in the request journal; no
    secret is part of either)."""

    def __init__(
        self,
        reason: str,
        base_strings: tuple[str, ...] = (),
        parameters: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(401, Messages.NOT_AUTHENTICATED.format(reason=reason))
        self.reason = reason
        self.base_strings = base_strings
        self.parameters = parameters or []  # the signed ones, oauth_signature left out


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)
