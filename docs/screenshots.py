"""Photograph every web page at desktop and phone width, as the browser test walks them:
`python docs/screenshots.py` writes docs/screenshots/<page>-<desktop|phone>.webp.

It serves a fresh store holding the demo data (in a temporary folder) on a free loopback port
and drives Debian's chromium through the same tour as tests/test_browser.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the tour and the people live with the tests

from browser import DESKTOP, PHONE, Tour, chromium, screenshot  # noqa: E402
from helpers import running  # noqa: E402
from people import PASSWORD, signed_up  # noqa: E402

from engagement_api import demo  # noqa: E402
from engagement_api.server import create_app  # noqa: E402
from engagement_api.store import open_store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "screenshots")
    parser.add_argument("--format", choices=("webp", "png"), default="webp")
    options = parser.parse_args()
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="engagement-screenshots-"))
    os.environ.setdefault("ENGAGEMENT_API_KEY_FILE", str(folder / "secrets.key"))
    for width_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        # A store per width: each tour creates its app and spends its request tokens.
        with open_store(f"sqlite:///{folder}/{width_name}.db") as store:
            demo.seed(store, time.time())
            signed_up(store, store.find_user("XDevelopers").id, "XDevelopers")
            signed_up(store, 1, "operator", admin=True)
            with running(create_app(store)) as base, contextlib.closing(chromium(size)) as browser:

                def photograph(name: str, browser=browser, width_name=width_name) -> None:
                    path = out / f"{name}-{width_name}.{options.format}"
                    screenshot(browser, path)
                    print(f"{path}  {path.stat().st_size // 1024} KiB")

                Tour(browser, base, photograph).walk("XDevelopers", "operator", PASSWORD)


if __name__ == "__main__":
    main()
