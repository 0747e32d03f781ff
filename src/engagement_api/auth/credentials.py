"""Minting credentials shaped like X's: consumer keys, user access tokens, bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
import string

_ALNUM = string.ascii_letters + string.digits


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def consumer_key() -> str:
    return _random(25)


def consumer_secret() -> str:
    return _random(50)


def access_token(user_id: int) -> str:
    """`<user_id>-<letters and digits>`, as X's user access tokens look (RULES.md D38)."""
    return f"{user_id}-{_random(40)}"


def access_token_secret() -> str:
    return _random(45)


def bearer_token() -> str:
    return "A" * 22 + secrets.token_urlsafe(64)


def token_hash(token: str) -> str:
    """Bearer tokens are stored only as this hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def admin_token() -> str:
    return "admin-" + secrets.token_urlsafe(40)
