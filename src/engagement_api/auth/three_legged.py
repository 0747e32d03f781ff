"""The 3-legged OAuth 1.0a flow ("Sign in with X", RFC 5849 section 2), as X serves it:

1. `POST /oauth/request_token`, signed with the consumer key and secret, `oauth_callback` a
   registered callback URL of the app or `oob`: a request token and secret.
2. `GET /oauth/authorize?oauth_token=...`: the user signs in and allows (or denies) the app;
   the browser goes back to the callback with `oauth_token` and `oauth_verifier` (or the
   verifier is shown as a PIN for `oob`).
3. `POST /oauth/access_token`, signed with the request token and carrying `oauth_verifier`:
   the user's access token and secret, `user_id` and `screen_name`.

A request token lives 15 minutes (spec.REQUEST_TOKEN_TTL) and is authorized once; a verifier
works once.
Nothing here knows HTTP: the routes read the request and write what these return.
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlencode, urlsplit, urlunsplit

from .. import spec
from ..contract import Contract, ContractUnavailable, nonce_key
from ..errors import ApiError, Unauthorized
from ..spec import Messages
from ..store import AccessToken, App, Store
from ..store.people import (
    REQUEST_AUTHORIZED,
    REQUEST_DENIED,
    REQUEST_PENDING,
    REQUEST_USED,
    RequestToken,
)
from . import credentials
from .oauth1 import SignedRequest, verify_signed
from .principal import Accounts

OOB = "oob"
NOT_EXCHANGED = {  # request tokens in these states give no access token
    REQUEST_PENDING: Messages.REQUEST_TOKEN_PENDING,
    REQUEST_DENIED: Messages.REQUEST_TOKEN_DENIED,
    REQUEST_USED: Messages.REQUEST_TOKEN_USED,
}
MAX_CALLBACK_URLS = 10
MAX_URL_LENGTH = 500


def verifier_hash(verifier: str) -> str:
    """Verifiers are kept hashed, like bearer tokens: a read of the store cannot spend one."""
    return hashlib.sha256(verifier.encode()).hexdigest()


def _spend_nonce(contract: Contract, app: App, nonce: str | None, wall_now: float) -> None:
    try:
        fresh = not nonce or contract.spend_nonce(nonce_key(app.consumer_key, nonce), wall_now)
    except ContractUnavailable:
        raise ApiError(503, Messages.CONTRACT_UNAVAILABLE) from None
    if not fresh:
        raise Unauthorized(Messages.NONCE_USED)


def request_token(
    accounts: Accounts, store: Store, contract: Contract, request: SignedRequest, wall_now: float
) -> str:
    """Leg 1: the form-encoded answer `oauth_token=...&oauth_token_secret=...&
    oauth_callback_confirmed=true`."""
    principal, oauth = verify_signed(accounts, request, wall_now, lambda value, app: None)
    app = principal.app
    callback = oauth.get("oauth_callback", "")
    if not callback:
        raise ApiError(400, Messages.CALLBACK_REQUIRED)
    if callback != OOB and callback not in app.callback_urls:
        raise ApiError(403, Messages.CALLBACK_NOT_APPROVED)
    _spend_nonce(contract, app, principal.nonce, wall_now)
    token = RequestToken(
        secrets.token_urlsafe(24),
        secrets.token_urlsafe(30),
        app.id,
        callback,
        int(wall_now),
        REQUEST_PENDING,
        None,
        None,
    )
    store.add_request_token(token)
    return urlencode(
        {
            "oauth_token": token.token,
            "oauth_token_secret": token.secret,
            "oauth_callback_confirmed": "true",
        }
    )


def pending_request(store: Store, token: str | None, wall_now: float) -> RequestToken:
    """The request token a user is asked to authorize, if it may still be."""
    found = store.request_token(token) if token else None
    if found is None or found.state != REQUEST_PENDING:
        raise ApiError(400, "This authorization request is unknown or was already answered")
    if wall_now - found.created_at > spec.REQUEST_TOKEN_TTL:
        raise ApiError(400, "This authorization request expired: start again from the app")
    return found


def authorize(store: Store, token: RequestToken, user_id: int) -> str:
    """The user allowed the app: where the browser goes next (or the PIN, for oob)."""
    verifier = secrets.token_urlsafe(16)
    if not store.settle_request_token(
        token.token, REQUEST_AUTHORIZED, user_id, verifier_hash(verifier)
    ):
        raise ApiError(400, "This authorization request was already answered")
    if token.callback == OOB:
        return verifier
    return _with_query(token.callback, {"oauth_token": token.token, "oauth_verifier": verifier})


def deny(store: Store, token: RequestToken) -> str | None:
    """The user refused: the callback with `denied=<token>` (None for oob)."""
    store.settle_request_token(token.token, REQUEST_DENIED)
    return None if token.callback == OOB else _with_query(token.callback, {"denied": token.token})


def access_token(
    accounts: Accounts, store: Store, contract: Contract, request: SignedRequest, wall_now: float
) -> str:
    """Leg 3: the form-encoded answer `oauth_token=...&oauth_token_secret=...&user_id=...&
    screen_name=...`, for an authorized request token and its verifier, once."""
    found: list[RequestToken] = []

    def request_token_of(value: str, app: App) -> tuple[str, int | None] | None:
        token = store.request_token(value)
        if token is None or token.app_id != app.id:
            return None
        found.append(token)
        return token.secret, token.user_id

    principal, oauth = verify_signed(accounts, request, wall_now, request_token_of)
    if not found:
        raise Unauthorized(Messages.TOKEN_NOT_FOUND)  # signed without a request token
    token = found[0]
    if wall_now - token.created_at > spec.REQUEST_TOKEN_TTL:
        raise ApiError(401, Messages.REQUEST_TOKEN_EXPIRED)
    if token.state in NOT_EXCHANGED:
        raise ApiError(401, NOT_EXCHANGED[token.state])
    verifier = oauth.get("oauth_verifier", "")
    if not verifier:
        raise ApiError(401, Messages.VERIFIER_REQUIRED)
    _spend_nonce(contract, principal.app, principal.nonce, wall_now)
    if not store.use_request_token(token.token, verifier_hash(verifier)):
        raise ApiError(401, Messages.WRONG_VERIFIER)
    user = store.get_user(token.user_id)
    access = AccessToken(
        credentials.access_token(user.id),
        credentials.access_token_secret(),
        principal.app.id,
        user.id,
    )
    store.create_access_token(access)
    return urlencode(
        {
            "oauth_token": access.token,
            "oauth_token_secret": access.secret,
            "user_id": str(user.id),
            "screen_name": user.handle,
        }
    )


def checked_callback_urls(urls: list[str]) -> list[str]:
    """An app's callback URLs, each http or https with a host, at most MAX_CALLBACK_URLS;
    blank ones dropped, repeats once. ApiError (400) names the first that is not."""
    kept = list(dict.fromkeys(url.strip() for url in urls if url.strip()))
    for url in kept:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_URL_LENGTH:
            raise ApiError(400, f"Not a callback URL (http or https, with a host): {url[:80]}")
    if len(kept) > MAX_CALLBACK_URLS:
        raise ApiError(400, f"At most {MAX_CALLBACK_URLS} callback URLs")
    return kept


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
