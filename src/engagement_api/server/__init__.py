"""The HTTP server: only this package knows HTTP.

`create_app` is imported on first use, so that `server.limits` (read by the command line)
does not bring in the web framework.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
