"""OAuth 1.0a (RFC 5849) request verification, HMAC-SHA1, with oauthlib doing the signing math.

We collect the parameters from the query and the `Authorization` header (never the JSON body,
RULES.md section 9), build the signature base string from the method, the scheme, the `Host`
header and the path (RFC 5849 3.4.1), sign it with oauthlib and compare the signatures in
constant time. A consumer key we do not know still costs a full HMAC, so timing does not tell
known keys from unknown ones. A signature that does not verify is reported with the base
string we built (never a secret), so a developer can compare it with their client's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from oauthlib.oauth1.rfc5849 import signature as rfc5849

from ..errors import Unauthorized
from ..spec import OAUTH_TIMESTAMP_WINDOW, Messages
from ..store import App
from .principal import Accounts, Principal

_REQUIRED = (
    "oauth_consumer_key",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
)
_DUMMY_SECRET = "x" * 50
MAX_NONCE = 255
MAX_TIMESTAMP_DIGITS = 12  # seconds since 1970 need 10 until the year 2286


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    urls: tuple[str, ...]  # base string URIs to try: the one seen first, then behind-a-proxy ones
    query: str
    authorization: str
    body: bytes


TokenLookup = Callable[[str, App], tuple[str, int | None] | None]


def verify(accounts: Accounts, request: SignedRequest, wall_now: float) -> Principal:
    """The principal of a correctly signed Engagement API request: user context with an access
    token of the app, app-only without one. Its nonce is spent by the contract, with the
    request's count, in one operation (`Contract.admit`): only then is it refused again."""

    def access_token(value: str, app: App) -> tuple[str, int | None] | None:
        token = accounts.get_access_token(value)
        return (token.secret, token.user_id) if token and token.app_id == app.id else None

    return verify_signed(accounts, request, wall_now, access_token)[0]


def verify_signed(
    accounts: Accounts, request: SignedRequest, wall_now: float, tokens: TokenLookup
) -> tuple[Principal, dict[str, str]]:
    """(the principal, the oauth_* parameters) of a correctly signed request, its token (when
    it names one) found by `tokens` (value, app) -> (secret, user id) for that app."""
    params = _parameters(request)
    oauth = dict(p for p in params if p[0].startswith("oauth_"))
    if any(not oauth.get(name) for name in _REQUIRED):
        raise Unauthorized(Messages.MALFORMED_HEADER)
    if oauth["oauth_signature_method"] != "HMAC-SHA1":
        raise Unauthorized(Messages.BAD_SIGNATURE_METHOD)
    if oauth.get("oauth_version", "1.0") != "1.0":
        raise Unauthorized(Messages.MALFORMED_HEADER)
    nonce = oauth["oauth_nonce"]
    raw_timestamp = oauth["oauth_timestamp"]
    if len(nonce) > MAX_NONCE or not (
        len(raw_timestamp) <= MAX_TIMESTAMP_DIGITS
        and raw_timestamp.isascii()
        and raw_timestamp.isdigit()
    ):
        raise Unauthorized(Messages.MALFORMED_HEADER)

    app = accounts.get_app_by_key(oauth["oauth_consumer_key"])
    token_value = oauth.get("oauth_token") or None
    token = tokens(token_value, app) if token_value and app else None
    token_ok = token is not None
    signed_params = [p for p in params if p[0] != "oauth_signature"]
    signature_ok, base_strings = _check_signature(
        request,
        signed_params,
        oauth["oauth_signature"],
        app.consumer_secret if app else _DUMMY_SECRET,
        token[0] if token_ok else "",
    )
    if app is None:
        raise Unauthorized(Messages.UNKNOWN_CONSUMER)
    if abs(wall_now - int(raw_timestamp)) > OAUTH_TIMESTAMP_WINDOW:
        raise Unauthorized(Messages.BAD_TIMESTAMP)
    if token_value and not token_ok:
        raise Unauthorized(Messages.TOKEN_NOT_FOUND)
    if not signature_ok:
        raise Unauthorized(Messages.BAD_SIGNATURE, base_strings, signed_params)
    body_hash = oauth.get("oauth_body_hash")
    if body_hash is not None:
        expected = base64.b64encode(hashlib.sha1(request.body).digest()).decode()
        if body_hash != expected:  # the body hash is part of what is signed
            raise Unauthorized(Messages.BAD_SIGNATURE, base_strings, signed_params)
    return Principal(app, token[1] if token_ok else None, nonce), oauth


def _parameters(request: SignedRequest) -> list[tuple[str, str]]:
    try:
        params = rfc5849.collect_parameters(
            uri_query=request.query,
            headers={"Authorization": request.authorization},
            exclude_oauth_signature=False,
        )
    except (ValueError, TypeError):
        raise Unauthorized(Messages.MALFORMED_HEADER) from None
    names = [name for name, _ in params if name.startswith("oauth_")]
    if len(names) != len(set(names)):
        raise Unauthorized(Messages.MALFORMED_HEADER)
    return params


def _check_signature(
    request: SignedRequest,
    params: list[tuple[str, str]],
    signature: str,
    consumer_secret: str,
    token_secret: str,
) -> tuple[bool, tuple[str, ...]]:
    """(whether the signature matches the base string of one of the URIs the client may have
    signed, RFC 5849 3.4.1; the base strings tried)."""
    normalized = rfc5849.normalize_parameters(params)
    tried = []
    for url in request.urls:
        base_string = rfc5849.signature_base_string(request.method, _base_uri(url), normalized)
        tried.append(base_string)
        expected = rfc5849.sign_hmac_sha1_with_client(
            base_string, _Secrets(consumer_secret, token_secret)
        )
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return True, tuple(tried)
    return False, tuple(tried)


class _Secrets(NamedTuple):
    """What oauthlib's signing reads of a client."""

    client_secret: str
    resource_owner_secret: str


@lru_cache(maxsize=64)
def _base_uri(url: str) -> str:
    try:
        return rfc5849.base_string_uri(url)
    except ValueError:
        raise Unauthorized(Messages.MALFORMED_HEADER) from None
