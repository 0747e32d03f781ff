"""Versioned schema files, `schema/<engine>_<NNNN>.sql`, applied in order."""

from __future__ import annotations

from functools import cache
from importlib import resources


class SchemaError(RuntimeError):
    """The database holds a schema this version does not know."""


@cache
def migrations(engine: str) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """(version, statements) of every schema file of an engine, oldest first."""
    found = []
    for entry in (resources.files(__package__) / "schema").iterdir():
        name = entry.name
        if name.startswith(engine + "_") and name.endswith(".sql"):
            version = int(name.removeprefix(engine + "_").removesuffix(".sql"))
            statements = tuple(s.strip() for s in entry.read_text().split(";\n") if s.strip())
            found.append((version, statements))
    return tuple(sorted(found))


def latest(engine: str) -> int:
    return migrations(engine)[-1][0]


def too_new(url: str, found: int, engine: str) -> str:
    return (
        f"{url} has schema version {found}; this engagement-api knows versions up to "
        f"{latest(engine)}. Upgrade engagement-api."
    )
