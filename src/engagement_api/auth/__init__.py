"""Authentication: an `Authorization` header -> a verified Principal, or a 401."""

from __future__ import annotations

from ..errors import Unauthorized
from ..spec import Messages
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
