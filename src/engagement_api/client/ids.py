"""Post ids from wherever a caller keeps them: a list, an iterator, a file (one per line).

Ids are checked before any request (canonical decimal digits below 2^63, the API's own rule)
and repeats are dropped: each post is asked once, so no figure is counted twice when the
batches are added up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Union

_ID = re.compile(r"[1-9][0-9]{0,18}")
_MAX = 2**63 - 1
_MAX_TEXT = str(_MAX)
# A first line naming the column, as in the Ruby sample client's id files.
_HEADERS = frozenset({"tweet_ids", "tweet_id", "id", "ids", "post_id", "post_ids"})

Ids = Union[Iterable[int | str], "os.PathLike[str]", IO[str]]


def canonical(value: int | str, where: str = "") -> str:
    """The id as the API writes it, or ValueError saying what is wrong with it."""
    if type(value) is int:
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"{where}not a post id: {value!r}")
    if not _ID.fullmatch(text) or int(text) > _MAX:
        hint = " (give a pathlib.Path to read ids from a file)" if "." in text else ""
        raise ValueError(f"{where}not a post id: {text!r}{hint}")
    return text


def _lines(handle: IO[str], name: str) -> list[str]:
    ids: list[str] = []
    for number, line in enumerate(handle, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not ids and text.lower() in _HEADERS:
            continue
        ids.append(canonical(text, f"{name}: line {number}: "))
    return ids


def read_ids(source: Ids) -> list[str]:
    """Every distinct id of `source`, in first-seen order.

    `source` is an iterable of ids (ints or strings), a path (`pathlib.Path` or any
    `os.PathLike`) of a file with one id per line, or an open text file. Blank lines, `#`
    comments and a header line such as `tweet_ids` are skipped.
    """
    if isinstance(source, str):
        values: list[str] = [canonical(source)]
    elif isinstance(source, os.PathLike):
        path = Path(source)
        with path.open(encoding="utf-8") as handle:
            values = _lines(handle, str(path))
    elif hasattr(source, "read"):
        values = _lines(source, getattr(source, "name", "<file>"))
    else:
        values = _checked(source)
    return list(dict.fromkeys(values))


def _checked(source: Iterable[int | str]) -> list[str]:
    values: list[str] = []
    add = values.append
    for n, value in enumerate(source, 1):
        # The common case at full speed: clean digits, no leading zero, at most 2^63 - 1
        # (19 digits compare as text in the order of their numbers).
        if (
            type(value) is str
            and value.isdigit()
            and value.isascii()
            and value[0] != "0"
            and (len(value) < 19 or (len(value) == 19 and value <= _MAX_TEXT))
        ):
            add(value)
            continue
        add(canonical(value, f"id #{n}: "))
    return values


def batches(ids: list[str], size: int) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
