"""The HTTP server: only this package knows HTTP."""

from .app import create_app

__all__ = ["create_app"]
