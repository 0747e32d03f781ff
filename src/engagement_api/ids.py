"""Post and user ids: canonical decimal snowflakes below 2^63."""

from __future__ import annotations

TWITTER_EPOCH_MS = 1288834974657
MAX_ID = 2**63 - 1


def parse_id(value: object) -> int | None:
    """The id as an int, or None when it is not a canonical positive decimal below 2^63.

    Strings are trimmed of surrounding whitespace (RULES.md D26); JSON integers are taken as
    they are; booleans, floats, signs, leading zeros and exponents are refused.
    """
    if type(value) is int:
        number = value
    elif type(value) is str:
        text = value.strip()
        if not (0 < len(text) <= 19 and text.isdigit() and text.isascii() and text[0] != "0"):
            return None
        number = int(text)
    else:
        return None
    return number if 0 < number <= MAX_ID else None


def snowflake_ms(post_id: int) -> int:
    """Creation time in ms since the Unix epoch, from a snowflake id."""
    return (post_id >> 22) + TWITTER_EPOCH_MS


def snowflake_for(ms: int, sequence: int = 0) -> int:
    """A snowflake id created at `ms` (used by the simulator)."""
    return ((ms - TWITTER_EPOCH_MS) << 22) | (sequence & ((1 << 22) - 1))
