"""Fixtures for every test; the helpers themselves live in helpers.py."""

from helpers import clock, server, store, world  # noqa: F401
