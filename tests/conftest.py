"""Fixtures for every test; the helpers themselves live in helpers.py."""

import os
import tempfile

# The secrets key file of every store the tests open, theirs alone (never ~/.config).
os.environ["ENGAGEMENT_API_KEY_FILE"] = os.path.join(tempfile.mkdtemp(), "secrets.key")

from helpers import (  # noqa: F401
    clock,
    postgres_server,
    redis_for_hosts,
    replica_server,
    server,
    store,
    store_url,
    world,
)
