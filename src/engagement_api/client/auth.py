"""Request signing as httpx auth flows: OAuth 1.0a (HMAC-SHA1, by oauthlib) and OAuth 2.0
bearer tokens.

The JSON body is never part of the OAuth 1.0a signature (only form bodies are, by RFC 5849),
as with requests-oauthlib and both sample clients; the server checks the same base string.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, Client


class OAuth1Auth(httpx.Auth):
    """OAuth 1.0a: user context with an access token and secret, or app-only with the
    consumer key and secret alone. Each request gets a fresh nonce and timestamp."""

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        access_token: str | None = None,
        access_token_secret: str | None = None,
    ) -> None:
        self._signer = Client(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=access_token or None,
            resource_owner_secret=access_token_secret or None,
            signature_method=SIGNATURE_HMAC_SHA1,
        )
        self.user_context = bool(access_token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # Neither body nor content type goes to the signer: a JSON body is not signed.
        _, headers, _ = self._signer.sign(str(request.url), http_method=request.method)
        request.headers["Authorization"] = headers["Authorization"]
        yield request


class BearerAuth(httpx.Auth):
    """OAuth 2.0 app-only: `Authorization: Bearer <token>`."""

    user_context = False

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request
