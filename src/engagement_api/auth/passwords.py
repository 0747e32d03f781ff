"""Passwords of people who sign in: argon2id hashes (argon2-cffi's defaults), checked in
constant time for known and unknown names alike, and sign-in throttled per user and per
client address."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
_UNKNOWN = _HASHER.hash("no one has this password")  # checked when the name is unknown
MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; a bound keeps one check cheap

# Failed sign-ins before a pause, per user and per client address, in THROTTLE_WINDOW seconds.
USER_FAILURES = 5
ADDRESS_FAILURES = 20
THROTTLE_WINDOW = 15 * 60


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")
    return _HASHER.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether `password` is the one behind `stored_hash`; as slow when there is none."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored_hash or _UNKNOWN, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
