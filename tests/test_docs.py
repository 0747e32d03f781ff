"""The docs keep up with the program: every command and option is documented, and every
example of the guides prints what the guide shows (docs/guide.py --check)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from engagement_api.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
GUIDE = ROOT / "docs" / "guide.py"


def commands(group: click.Group = main, path: tuple[str, ...] = ()):
    """(path, command) of every command below `group`, groups included."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def documented() -> str:
    return "\n".join(page.read_text() for page in DOCS)


def test_every_command_and_option_is_documented():
    text = documented()
    missing = []
    for path, command in commands():
        shown = "engagement-api " + " ".join(path)
        if not re.search(re.escape(shown) + r"\b", text):
            missing.append(shown)
        for parameter in command.params:
            for option in getattr(parameter, "opts", []):
                if option.startswith("-") and not re.search(re.escape(option) + r"\b", text):
                    missing.append(f"{shown} {option}")
    for option in (o for p in main.params for o in p.opts):
        if not re.search(re.escape(option) + r"\b", text):
            missing.append(f"engagement-api {option}")
    assert not missing, "not in docs/: " + ", ".join(missing)


def _guides() -> list[str]:
    sys.path.insert(0, str(GUIDE.parent))
    try:
        import guide
    finally:
        sys.path.pop(0)
    return [path.name for path in guide.GUIDES]


def test_the_guides_listen_on_ports_of_their_own():
    """The guides' checks run side by side (pytest-xdist): no two may start a server on the
    same port."""
    seen: dict[str, str] = {}
    for name in _guides():
        for port in set(re.findall(r"--port (\d+)", (GUIDE.parent / name).read_text())):
            assert port not in seen, f"{name} and {seen[port]} both listen on {port}"
            seen[port] = name


@pytest.mark.parametrize("name", _guides())
def test_the_guide_prints_what_it_shows(name):
    """Runs every example of the guide in a fresh folder and compares the output (random
    values and durations masked)."""
    done = subprocess.run(
        [sys.executable, str(GUIDE), "--check", str(GUIDE.parent / name)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
