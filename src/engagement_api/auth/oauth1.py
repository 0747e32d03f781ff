"""OAuth 1.0a (RFC 5849) request verification, HMAC-SHA1, with oauthlib doing the signing math.

We collect the parameters from the query and the `Authorization` header (never the JSON body,
RULES.md section 9), rebuild the signature base string from the method, the scheme, the `Host`
header and the path, and compare signatures in constant time. A consumer key we do not know
still costs a full HMAC, so timing does not tell known keys from unknown ones.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as rfc5849

from ..errors import ApiError
from ..spec import NONCE_TTL, OAUTH_TIMESTAMP_WINDOW, Messages
from ..store import Store
from .principal import Principal

_REQUIRED = (
    "oauth_consumer_key",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
)
_DUMMY_SECRET = "x" * 50


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    urls: tuple[str, ...]  # base string URIs to try: the one seen first, then behind-a-proxy ones
    query: str
    authorization: str
    body: bytes


def unauthorized(reason: str) -> ApiError:
    return ApiError(401, Messages.NOT_AUTHENTICATED.format(reason=reason))


def verify(store: Store, request: SignedRequest, wall_now: float) -> Principal:
    params = _parameters(request)
    oauth = dict(p for p in params if p[0].startswith("oauth_"))
    if any(not oauth.get(name) for name in _REQUIRED):
        raise unauthorized(Messages.MALFORMED_HEADER)
    if oauth["oauth_signature_method"] != "HMAC-SHA1":
        raise unauthorized(Messages.BAD_SIGNATURE_METHOD)
    if oauth.get("oauth_version", "1.0") != "1.0":
        raise unauthorized(Messages.MALFORMED_HEADER)
    nonce = oauth["oauth_nonce"]
    if len(nonce) > 255:
        raise unauthorized(Messages.MALFORMED_HEADER)

    app = store.get_app_by_key(oauth["oauth_consumer_key"])
    token_value = oauth.get("oauth_token") or None
    token = store.get_access_token(token_value) if token_value and app else None
    token_ok = token is not None and token.app_id == app.id
    signature_ok = _signature_matches(
        request,
        [p for p in params if p[0] != "oauth_signature"],
        oauth["oauth_signature"],
        app.consumer_secret if app else _DUMMY_SECRET,
        token.secret if token_ok else "",
    )
    if app is None:
        raise unauthorized(Messages.UNKNOWN_CONSUMER)
    raw_timestamp = oauth["oauth_timestamp"]
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit()):
        raise unauthorized(Messages.MALFORMED_HEADER)
    timestamp = int(raw_timestamp)
    if abs(wall_now - timestamp) > OAUTH_TIMESTAMP_WINDOW:
        raise unauthorized(Messages.BAD_TIMESTAMP)
    if token_value and not token_ok:
        raise unauthorized(Messages.TOKEN_NOT_FOUND)
    if not signature_ok:
        raise unauthorized(Messages.BAD_SIGNATURE)
    body_hash = oauth.get("oauth_body_hash")
    if body_hash is not None:
        expected = base64.b64encode(hashlib.sha1(request.body).digest()).decode()
        if body_hash != expected:  # the body hash is part of what is signed
            raise unauthorized(Messages.BAD_SIGNATURE)
    # Only a correctly signed request may spend a nonce.
    if not store.remember_nonce(app.consumer_key, nonce, int(wall_now), NONCE_TTL):
        raise unauthorized(Messages.NONCE_USED)
    return Principal(app, token.user_id if token_ok else None, app.consumer_key)


def _parameters(request: SignedRequest) -> list[tuple[str, str]]:
    try:
        params = rfc5849.collect_parameters(
            uri_query=request.query,
            headers={"Authorization": request.authorization},
            exclude_oauth_signature=False,
        )
    except (ValueError, TypeError):
        raise unauthorized(Messages.MALFORMED_HEADER) from None
    names = [name for name, _ in params if name.startswith("oauth_")]
    if len(names) != len(set(names)):
        raise unauthorized(Messages.MALFORMED_HEADER)
    return params


def _signature_matches(
    request: SignedRequest,
    params: list[tuple[str, str]],
    signature: str,
    consumer_secret: str,
    token_secret: str,
) -> bool:
    matched = False
    for url in request.urls:
        candidate = OAuthRequest(url, http_method=request.method)
        candidate.params = params
        candidate.signature = signature
        matched |= rfc5849.verify_hmac_sha1(candidate, consumer_secret, token_secret)
        if matched:
            break
    return matched
