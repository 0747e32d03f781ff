"""What the server's logs may say: never a secret. Access-log lines lose the query string of
the OAuth routes, where clients put tokens and secrets (`access_token=`, `client_secret=`),
and on every other route the values of parameters that may carry one: a client signing in
the query (`oauth_signature=`, `oauth_token=`) or a token pasted into a link."""

from __future__ import annotations

import copy
import logging
import re

_SECRET_PATHS = ("/oauth2/", "/oauth/")
# A parameter whose name says it may hold a credential: its value is never logged.
_SECRET_PARAMETER = re.compile(
    r"(?i)(^|[&;])((?:[^&;=]*(?:oauth|token|secret|signature|password|key|verifier|nonce)"
    r"[^&;=]*)=)[^&;]*"
)


def redact_target(target: str) -> str:
    """The request target as an access-log line may show it."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    if path.startswith(_SECRET_PATHS):
        return path + "?[redacted]"
    return path + "?" + _SECRET_PARAMETER.sub(r"\1\2[redacted]", query)


class RedactQueries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_target(args[2]), *args[3:])
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
