"""Authentication over real HTTP: OAuth 1.0a user context and app-only, bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import uuid

import pytest
import requests
from helpers import (
    A1,
    B1,
    bearer_header,
    body,
    call,
    make_app,
    make_user_credentials,
    signed_header,
)
from oauthlib.oauth1 import SIGNATURE_PLAINTEXT
from requests_oauthlib import OAuth1

from engagement_api.auth.credentials import token_hash

REASON = "Your account could not be authenticated. Reason: {}"


def assert_401(response, reason):
    assert response.status_code == 401, response.text
    assert response.json() == {"errors": [REASON.format(reason)]}


def test_missing_or_unknown_authorization_type(world):
    assert_401(
        call(world.server, "totals", body([A1], ["favorites"])), "Unknown Authorization Type"
    )
    assert_401(
        call(
            world.server,
            "totals",
            body([A1], ["favorites"]),
            headers={"Authorization": "Basic dXNlcjpwYXNz"},
        ),
        "Unknown Authorization Type",
    )


def test_malformed_oauth_header(world):
    for header in ("OAuth garbage", 'OAuth oauth_consumer_key="k"', "OAuth "):
        assert_401(
            call(
                world.server, "totals", body([A1], ["favorites"]), headers={"Authorization": header}
            ),
            "Malformed OAuth header",
        )


def test_unknown_consumer_key(world):
    auth = OAuth1("no-such-key", "secret", world.alice.token.token, world.alice.token.secret)
    assert_401(
        call(world.server, "totals", body([A1], ["favorites"]), auth), "Unknown consumer key"
    )


def test_wrong_secrets_are_an_invalid_signature(world):
    app, token = world.alice.app, world.alice.token
    for auth in (
        OAuth1(app.consumer_key, "wrong", token.token, token.secret),
        OAuth1(app.consumer_key, app.consumer_secret, token.token, "wrong"),
    ):
        assert_401(
            call(world.server, "totals", body([A1], ["favorites"]), auth), "Invalid signature"
        )


def test_unknown_token_or_token_of_another_app(world):
    app = world.alice.app
    auth = OAuth1(app.consumer_key, app.consumer_secret, "1001-nosuchtoken", "secret")
    assert_401(
        call(world.server, "totals", body([A1], ["favorites"]), auth), "Access token not found"
    )
    foreign = world.other_app_alice.token
    auth = OAuth1(app.consumer_key, app.consumer_secret, foreign.token, foreign.secret)
    assert_401(
        call(world.server, "totals", body([A1], ["favorites"]), auth), "Access token not found"
    )


def test_timestamp_window_uses_the_wall_clock(world):
    """The data clock is frozen in the past; real clients stamp real time and are accepted."""
    ok = call(world.server, "totals", body([A1], ["favorites"]), world.alice.oauth())
    assert ok.status_code == 200
    for skew in (-301, 301):
        auth = world.alice.oauth(timestamp=str(int(time.time()) + skew))
        assert_401(
            call(world.server, "totals", body([A1], ["favorites"]), auth), "Timestamp out of range"
        )
    auth = world.alice.oauth(timestamp=str(int(time.time()) - 250))
    assert call(world.server, "totals", body([A1], ["favorites"]), auth).status_code == 200


def test_a_nonce_is_accepted_once(world):
    nonce = uuid.uuid4().hex + "abcdefghij"  # 42 characters, like X's clients send
    first = call(world.server, "totals", body([A1], ["favorites"]), world.alice.oauth(nonce=nonce))
    assert first.status_code == 200
    again = call(world.server, "totals", body([A1], ["favorites"]), world.alice.oauth(nonce=nonce))
    assert_401(again, "Nonce already used")
    # the same nonce under another consumer key is a different nonce
    other = world.other_app_alice
    assert other.app.id != world.alice.app.id


def test_a_badly_signed_request_does_not_spend_the_nonce(world):
    app, token = world.alice.app, world.alice.token
    nonce = "n" * 32
    bad = OAuth1(app.consumer_key, "wrong", token.token, token.secret, nonce=nonce)
    assert_401(call(world.server, "totals", body([A1], ["favorites"]), bad), "Invalid signature")
    good = world.alice.oauth(nonce=nonce)
    assert call(world.server, "totals", body([A1], ["favorites"]), good).status_code == 200


def test_only_hmac_sha1(world):
    auth = world.alice.oauth(signature_method=SIGNATURE_PLAINTEXT)
    assert_401(
        call(world.server, "totals", body([A1], ["favorites"]), auth),
        "Unsupported signature method",
    )


def test_oauth_body_hash_is_checked_when_sent(world):
    """The Ruby sample client signs an oauth_body_hash of its JSON body."""
    url = world.server.path("totals")
    payload = json.dumps(body([A1], ["favorites"])).encode()
    good_hash = base64.b64encode(hashlib.sha1(payload).digest()).decode()
    header = signed_header(
        url, world.alice.app, world.alice.token, [("oauth_body_hash", good_hash)]
    )
    r = requests.post(
        url,
        data=payload,
        headers={"Authorization": header, "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    bad_hash = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    header = signed_header(url, world.alice.app, world.alice.token, [("oauth_body_hash", bad_hash)])
    r = requests.post(url, data=payload, headers={"Authorization": header}, timeout=10)
    assert_401(r, "Invalid signature")  # the body hash is part of what is signed


def test_https_signed_requests_behind_a_tls_proxy_verify(world):
    url = world.server.path("totals")
    https = url.replace("http://", "https://")
    header = signed_header(url, world.alice.app, world.alice.token, scheme_url=https)
    r = requests.post(
        url, json=body([A1], ["favorites"]), headers={"Authorization": header}, timeout=10
    )
    assert r.status_code == 200, r.text


def test_x_style_credentials_verify(world, store):
    """Hyphenated access tokens and long nonces, as X issues and its clients send."""
    assert "-" in world.alice.token.token
    r = call(world.server, "totals", body([A1], ["favorites"]), world.alice.oauth(nonce="A" * 42))
    assert r.status_code == 200


def _basic(app, secret=None):
    raw = f"{app.consumer_key}:{secret or app.consumer_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_bearer_token_grant_use_and_invalidate(world):
    app = world.alice.app
    url = world.server.url
    r = requests.post(
        f"{url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(app),
        timeout=10,
    )
    assert r.status_code == 200
    grant = r.json()
    assert grant["token_type"] == "bearer"
    token = grant["access_token"]
    ok = call(world.server, "totals", body([B1], ["favorites"]), headers=bearer_header(token))
    assert ok.status_code == 200
    r = requests.post(
        f"{url}/oauth2/invalidate_token",
        data={"access_token": token},
        headers=_basic(app),
        timeout=10,
    )
    assert r.json() == {"access_token": token}
    gone = call(world.server, "totals", body([B1], ["favorites"]), headers=bearer_header(token))
    assert_401(gone, "Invalid or expired token")
    # other tokens of the app stay valid
    ok = call(
        world.server, "totals", body([B1], ["favorites"]), headers=bearer_header(world.bearer)
    )
    assert ok.status_code == 200


def test_bearer_grant_errors(world):
    url = world.server.url
    app = world.alice.app
    for headers in ({}, _basic(app, "wrong-secret"), {"Authorization": "Basic !!!"}):
        r = requests.post(
            f"{url}/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers=headers,
            timeout=10,
        )
        assert r.status_code == 401
        assert r.json() == {"errors": ["Unable to verify your credentials"]}
    r = requests.post(
        f"{url}/oauth2/token", data={"grant_type": "password"}, headers=_basic(app), timeout=10
    )
    assert r.status_code == 400 and r.json()["errors"]
    r = requests.post(
        f"{url}/oauth2/token?grant_type=client_credentials", headers=_basic(app), timeout=10
    )
    assert r.status_code == 200
    assert_401(
        call(
            world.server,
            "totals",
            body([B1], ["favorites"]),
            headers=bearer_header("AAAAnotatoken"),
        ),
        "Invalid or expired token",
    )


def test_unapproved_apps_get_bearer_tokens_but_no_engagement_data(world, store):
    app = make_app(store, "pending", approved=False)
    r = requests.post(
        f"{world.server.url}/oauth2/token",
        headers=_basic(app),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    token = r.json()["access_token"]
    r = call(world.server, "totals", body([B1], ["favorites"]), headers=bearer_header(token))
    assert r.status_code == 403
    assert r.json() == {"errors": ["Your application id is not authorized."]}


def test_bearer_tokens_are_stored_hashed(world, store):
    assert store.bearer_token_app(token_hash(world.bearer)) == world.alice.app.id
    assert store.bearer_token_app(world.bearer) is None  # the token itself is not a key


def test_secrets_never_reach_the_logs(world, store, caplog):
    caplog.set_level(logging.DEBUG)
    creds = make_user_credentials(store, world.alice.app, 1001)
    bad = OAuth1(creds.app.consumer_key, "wrong", creds.token.token, creds.token.secret)
    call(world.server, "totals", body([A1], ["favorites"]), bad)
    call(world.server, "totals", body([A1], ["favorites"]), creds.oauth())
    call(world.server, "totals", body([B1], ["favorites"]), headers=bearer_header(world.bearer))
    text = caplog.text
    for secret in (creds.app.consumer_secret, creds.token.secret, world.bearer):
        assert secret not in text


@pytest.mark.parametrize("endpoint", ["totals", "28hr", "historical"])
def test_user_context_works_on_every_endpoint(world, endpoint):
    r = call(world.server, endpoint, body([A1], ["favorites"]), world.alice.oauth())
    assert r.status_code == 200
