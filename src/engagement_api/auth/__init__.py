"""Authentication: an `Authorization` header -> a verified Principal, or a 401."""

from __future__ import annotations

from ..spec import Messages
from ..store import Store
from . import bearer, oauth1
from .oauth1 import SignedRequest, unauthorized
from .principal import Principal

__all__ = ["Principal", "SignedRequest", "authenticate"]


def authenticate(store: Store, request: SignedRequest, wall_now: float) -> Principal:
    scheme, _, rest = request.authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "oauth":
        return oauth1.verify(store, request, wall_now)
    if scheme == "bearer":
        return bearer.verify(store, rest.strip())
    raise unauthorized(Messages.UNKNOWN_AUTH_TYPE)
