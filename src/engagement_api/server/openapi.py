"""The OpenAPI 3.1 document, built from the spec module so it cannot drift from the code."""

from __future__ import annotations

from functools import cache

from .. import __version__, spec
from ..ids import MAX_ID

_ERRORS = {
    "type": "object",
    "required": ["errors"],
    "properties": {"errors": {"type": "array", "minItems": 1, "items": {"type": "string"}}},
}


def _id_pattern() -> str:
    """Decimal ids from 1 to 2^63 - 1 as a regular expression (no number is compared in a
    JSON Schema pattern, so the 19-digit ones are spelled out digit by digit)."""
    top = str(MAX_ID)
    shorter = f"[1-9][0-9]{{0,{len(top) - 2}}}"
    same_length = [f"[1-{int(top[0]) - 1}][0-9]{{{len(top) - 1}}}"]
    for i in range(1, len(top)):
        digit, rest = int(top[i]), len(top) - 1 - i
        if digit:
            lower = f"[0-{digit - 1}]" if digit > 1 else "0"
            same_length.append(top[:i] + lower + (f"[0-9]{{{rest}}}" if rest else ""))
    return "|".join([shorter, *same_length, top])


def _any_case(word: str) -> str:
    """`word` in any letter case, as the server reads group_by values (RULES.md D13)."""
    return "".join(
        f"[{c.upper()}{c.lower()}]" if c.isalpha() else ("\\." if c == "." else c) for c in word
    )


_ID = {"type": "string", "pattern": f"^({_id_pattern()})$"}  # as answered: canonical
_ID_SENT = {"type": "string", "pattern": f"^\\s*({_id_pattern()})\\s*$"}  # as read: trimmed
_ID_LIST = {"type": "array", "items": _ID}
_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_INSTANT = {
    "type": "string",
    "pattern": (
        f"^\\s*({_DATE}|{_DATE}[Tt][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}}(\\.[0-9]+)?)?"
        "([Zz]|[+-][0-9]{2}(:?[0-9]{2})?))\\s*$"
    ),
    "description": "YYYY-MM-DD or an ISO 8601 date-time with a zone; rounded to hours",
}


def _request_schema(endpoint: spec.Endpoint) -> dict:
    properties = {
        "tweet_ids": {
            "type": "array",
            "minItems": 1,
            "maxItems": endpoint.max_ids,
            "items": {"oneOf": [_ID_SENT, {"type": "integer", "minimum": 1, "maximum": MAX_ID}]},
        },
        "engagement_types": {
            "type": "array",
            "minItems": 1,
            "items": {"enum": list(endpoint.metrics)},
        },
        "groupings": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": spec.MAX_GROUPINGS,
            "propertyNames": {"minLength": 1, "not": {"enum": sorted(spec.RESERVED_KEYS)}},
            "additionalProperties": {
                "type": "object",
                "required": ["group_by"],
                "properties": {
                    "group_by": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": len(endpoint.group_by),
                        "uniqueItems": True,
                        "items": {
                            "type": "string",
                            "pattern": "^\\s*("
                            + "|".join(_any_case(level) for level in endpoint.group_by)
                            + ")\\s*$",
                        },
                    }
                },
            },
        },
    }
    if endpoint.takes_window:
        for key in ("start", "end"):
            properties[key] = _INSTANT
    return {
        "type": "object",
        "required": ["tweet_ids", "engagement_types", "groupings"],
        "properties": properties,
    }


def _response_schema(endpoint: spec.Endpoint) -> dict:
    properties: dict = {
        spec.UNAVAILABLE_KEY: _ID_LIST,
        spec.UNSUPPORTED_VIDEO_KEY: _ID_LIST,
        spec.ERRORS_KEY: {"type": "array", "items": {"type": "string"}},
    }
    if endpoint is spec.TOTALS:
        properties[spec.UNSUPPORTED_IMPRESSIONS_KEY] = _ID_LIST
    if endpoint.timeseries:
        for key in (spec.START_KEY, spec.END_KEY):
            properties[key] = {"type": "string", "format": "date-time"}
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": {
            "type": "object",
            "description": "A grouping, under the caller's name; counts are decimal strings",
        },
    }


def _operation(endpoint: spec.Endpoint) -> dict:
    security = [{"oauth1": []}]
    if endpoint is spec.TOTALS:
        security.append({"bearer": []})
    error = {"content": {"application/json": {"schema": _ERRORS}}}
    return {
        "post": {
            "operationId": endpoint.name,
            "summary": f"Engagement metrics for up to {endpoint.max_ids} posts",
            "security": security,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _request_schema(endpoint)}},
            },
            "responses": {
                "200": {
                    "description": "Success, possibly partial",
                    "headers": {
                        spec.LIMIT_HEADER: {"schema": {"type": "string"}},
                        spec.REMAINING_HEADER: {"schema": {"type": "string"}},
                    },
                    "content": {"application/json": {"schema": _response_schema(endpoint)}},
                },
                **{
                    str(code): {"description": text, **error}
                    for code, text in (
                        (400, "Invalid request, or protected posts"),
                        (401, "Missing or invalid credentials"),
                        (403, "Unapproved app, app-only beyond its rights, or others' posts"),
                        *_BOUNDS,
                        (429, "Per-minute allowance exceeded"),
                        (503, "Allowances cannot be counted (the contract backend is down)"),
                    )
                },
            },
        }
    }


def _usage_operation() -> dict:
    error = {"content": {"application/json": {"schema": _ERRORS}}}
    return {
        "get": {
            "operationId": "usage",
            "summary": "The calling app's unique @handles queried in a billing month",
            "security": [{"oauth1": []}, {"bearer": []}],
            "parameters": [
                {
                    "name": "month",
                    "in": "query",
                    "required": False,
                    "description": "YYYY-MM (UTC); the data clock's month when absent",
                    "schema": {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"},
                }
            ],
            "responses": {
                "200": {
                    "description": "The app's usage that month",
                    "headers": {
                        spec.LIMIT_HEADER: {"schema": {"type": "string"}},
                        spec.REMAINING_HEADER: {"schema": {"type": "string"}},
                    },
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": [
                                    "app_id",
                                    "app_name",
                                    "month",
                                    "handle_limit",
                                    "unique_handles",
                                    "overage",
                                    "handles",
                                ],
                                "properties": {
                                    "app_id": {"type": "string"},
                                    "app_name": {"type": "string"},
                                    "month": {"type": "string"},
                                    "handle_limit": {"type": ["integer", "null"]},
                                    "unique_handles": {"type": "integer"},
                                    "overage": {"type": "integer"},
                                    "handles": {"type": "array", "items": {"type": "string"}},
                                },
                            }
                        }
                    },
                },
                **{
                    str(code): {"description": text, **error}
                    for code, text in (
                        (400, "A month that is not YYYY-MM"),
                        (401, "Missing or invalid credentials"),
                        (403, "Unapproved app"),
                        *_BOUNDS,
                        (429, "Per-minute allowance exceeded"),
                        (503, "Allowances cannot be counted (the contract backend is down)"),
                    )
                },
            },
        }
    }


# What every route may answer before it reads the request (server/limits.py).
_BOUNDS = (
    (408, "The request did not arrive in time"),
    (413, "The body is larger than the route takes"),
    (431, "The request headers are too large or too many"),
)


def _token_operation(summary: str, fields: dict, answer: dict) -> dict:
    error = {"content": {"application/json": {"schema": _ERRORS}}}
    return {
        "post": {
            "summary": summary,
            "security": [{"basic": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "properties": fields,
                            "required": list(fields),
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": answer,
                            }
                        }
                    },
                },
                "400": {"description": "Bad request", **error},
                "401": {"description": "Bad client credentials", **error},
                **{str(code): {"description": text, **error} for code, text in _BOUNDS},
            },
        }
    }


def _three_legged_operation(summary: str, answer: dict, refusals: dict[int, str]) -> dict:
    """A signed leg of the 3-legged flow: its parameters are in the OAuth header."""
    error = {"content": {"application/json": {"schema": _ERRORS}}}
    return {
        "post": {
            "summary": summary,
            "security": [{"oauth1": []}],
            "responses": {
                "200": {
                    "description": "OK (form-encoded)",
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {name: {"type": "string"} for name in answer},
                                "required": list(answer),
                            }
                        }
                    },
                },
                **{str(code): {"description": text, **error} for code, text in refusals.items()},
                **{str(code): {"description": text, **error} for code, text in _BOUNDS},
                "503": {"description": "Nonces cannot be checked; retry", **error},
            },
        }
    }


@cache
def openapi_document() -> dict:
    paths = {e.path: _operation(e) for e in spec.ENDPOINTS}
    paths[spec.USAGE_PATH] = _usage_operation()
    paths["/oauth2/token"] = _token_operation(
        "Obtain an app-only bearer token",
        {"grant_type": {"const": "client_credentials"}},
        {"token_type": {"const": "bearer"}, "access_token": {"type": "string"}},
    )
    paths["/oauth2/invalidate_token"] = _token_operation(
        "Invalidate a bearer token",
        {"access_token": {"type": "string", "minLength": 1}},
        {"access_token": {"type": "string"}},
    )
    paths["/oauth/request_token"] = _three_legged_operation(
        "3-legged flow, leg 1: a request token (oauth_callback: a registered URL, or oob)",
        ("oauth_token", "oauth_token_secret", "oauth_callback_confirmed"),
        {
            400: "No oauth_callback",
            401: "Bad signature, timestamp or nonce",
            403: "Callback URL not approved for this client application.",
        },
    )
    paths["/oauth/access_token"] = _three_legged_operation(
        "3-legged flow, leg 3: the user's access token, for an authorized request token and "
        "its oauth_verifier",
        ("oauth_token", "oauth_token_secret", "user_id", "screen_name"),
        {401: "Bad signature; request token unknown, expired, denied or used; wrong verifier"},
    )
    paths["/admin/ingest"] = {
        "post": {
            "summary": "Apply one batch of NDJSON records, whole or not at all, once per key",
            "security": [{"admin": []}],
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "maxLength": 255},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            },
            "responses": {
                "200": {
                    "description": "Applied now (applied: true) or before (false)",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "idempotency_key": {"type": "string"},
                                    "applied": {"type": "boolean"},
                                    "records": {"type": "integer"},
                                    "posts": {"type": "integer"},
                                    "events": {"type": "integer"},
                                },
                            }
                        }
                    },
                },
                "400": {
                    "description": "Bad records (each named by line); nothing applied",
                    "content": {"application/json": {"schema": _ERRORS}},
                },
                "401": {
                    "description": "Missing or unknown admin token",
                    "content": {"application/json": {"schema": _ERRORS}},
                },
                **{
                    str(code): {
                        "description": text,
                        "content": {"application/json": {"schema": _ERRORS}},
                    }
                    for code, text in _BOUNDS
                },
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Engagement API", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "oauth1": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "OAuth 1.0a, HMAC-SHA1 (user context or consumer only)",
                },
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
                "admin": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token from `engagement-api admin-token create`",
                },
            }
        },
    }
