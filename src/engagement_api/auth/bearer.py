"""OAuth 2.0 app-only bearer tokens: issued for consumer credentials, stored hashed."""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import unquote

from ..errors import ApiError, Unauthorized
from ..spec import Messages
from ..store import App, Store
from . import credentials
from .principal import Accounts, Principal


def verify(accounts: Accounts, token: str) -> Principal:
    app_id = accounts.bearer_token_app(credentials.token_hash(token)) if token else None
    app = accounts.get_app(app_id) if app_id is not None else None
    if app is None:
        raise Unauthorized(Messages.BAD_BEARER)
    return Principal(app, None)


def issue(store: Store, app: App, now: int) -> str:
    token = credentials.bearer_token()
    store.add_bearer_token(credentials.token_hash(token), app.id, now)
    return token


def client_app(accounts: Accounts, authorization: str | None) -> App:
    """The app named by HTTP Basic `consumer_key:consumer_secret` (each URL-encoded)."""
    refused = ApiError(401, Messages.BAD_CLIENT_CREDENTIALS)
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        raise refused
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise refused from None
    key, sep, secret = decoded.partition(":")
    app = accounts.get_app_by_key(unquote(key)) if sep else None
    expected = app.consumer_secret if app else "x" * 50
    if not hmac.compare_digest(expected.encode(), unquote(secret).encode()) or app is None:
        raise refused
    return app
