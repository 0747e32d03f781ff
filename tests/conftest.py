"""Fixtures for every test; the helpers themselves live in helpers.py."""

from helpers import clock, postgres_server, server, store, store_url, world  # noqa: F401
