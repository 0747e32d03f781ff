"""What the server's logs may say: never a secret. Access-log lines lose the query string of
the OAuth routes, where clients put tokens and secrets (`access_token=`, `client_secret=`)."""

from __future__ import annotations

import copy
import logging

_SECRET_PATHS = ("/oauth2/", "/oauth/")


class RedactQueries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, sep, _ = args[2].partition("?")
            if sep and path.startswith(_SECRET_PATHS):
                record.args = (*args[:2], path + "?[redacted]", *args[3:])
        return True


def log_config(base: dict) -> dict:
    """uvicorn's logging configuration with the redaction on the access log, written to
    stderr (stdout carries only what a command prints for scripts)."""
    config = copy.deepcopy(base)
    config.setdefault("filters", {})["redact"] = {"()": f"{__name__}.RedactQueries"}
    access = config["handlers"]["access"]
    access["stream"] = "ext://sys.stderr"
    access.setdefault("filters", []).append("redact")
    return config
