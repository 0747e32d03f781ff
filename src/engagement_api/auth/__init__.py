"""Authentication: an `Authorization` header -> a verified Principal, or a 401."""

from __future__ import annotations

import re

from ..errors import Unauthorized
from ..spec import Messages
from ..store import App
from . import bearer, credentials, oauth1
from .oauth1 import SignedRequest
from .principal import Accounts, Principal

__all__ = ["Accounts", "Principal", "SignedRequest", "authenticate", "check_admin", "kind_of"]


def kind_of(authorization: str) -> str | None:
    """ "oauth1" or "bearer" by the header's scheme; None for anything else."""
    scheme = authorization.strip().partition(" ")[0].lower()
    return {"oauth": "oauth1", "bearer": "bearer"}.get(scheme)


def authenticate(accounts: Accounts, request: SignedRequest, wall_now: float) -> Principal:
    kind = kind_of(request.authorization)
    if kind == "oauth1":
        return oauth1.verify(accounts, request, wall_now)
    if kind == "bearer":
        return bearer.verify(accounts, request.authorization.strip().partition(" ")[2].strip())
    raise Unauthorized(Messages.UNKNOWN_AUTH_TYPE)


def check_admin(accounts: Accounts, authorization: str) -> None:
    """An admin token (`admin-token create`) as `Authorization: Bearer ...`, or a 401."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(Messages.UNKNOWN_AUTH_TYPE)
    if not accounts.admin_token_valid(credentials.token_hash(token)):
        raise Unauthorized(Messages.BAD_BEARER)


def peek_app(accounts: Accounts, authorization: str) -> App | None:
    """The app a request claims to be, unverified (a fault rule's 429 shows its limit)."""
    kind = kind_of(authorization)
    if kind == "bearer":
        token = authorization.strip().partition(" ")[2].strip()
        app_id = accounts.bearer_token_app(credentials.token_hash(token)) if token else None
        return accounts.get_app(app_id) if app_id is not None else None
    if kind == "oauth1":
        found = _CONSUMER_KEY.search(authorization)
        return accounts.get_app_by_key(found.group(1)) if found else None
    return None


_CONSUMER_KEY = re.compile(r'oauth_consumer_key="([^"]{1,255})"')
