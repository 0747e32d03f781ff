"""Authentication over real HTTP: OAuth 1.0a user context and app-only, bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import time
import uuid
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from helpers import (
    A1,
    B1,
    bearer_header,
    body,
    call,
    event,
    make_app,
    signed_header,
    world_records,
)
from oauthlib.oauth1 import SIGNATURE_PLAINTEXT
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header, unescape
from people import PASSWORD, Visitor, form_to
from requests_oauthlib import OAuth1
from serving import ENGAGEMENT_API, cli, prepare, serve

from engagement_api.auth.credentials import token_hash

REASON = "Your account could not be authenticated. Reason: {}"
TOTALS, HR28 = "/insights/engagement/totals", "/insights/engagement/28hr"


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


def test_a_nonce_is_accepted_once_per_consumer_key(world):
    nonce = uuid.uuid4().hex + "abcdefghij"  # 42 characters, like X's clients send
    first = call(world.server, "totals", body([A1], ["favorites"]), world.alice.oauth(nonce=nonce))
    assert first.status_code == 200, first.text
    # the same nonce under another consumer key is a different nonce (RULES.md section 9)
    other = call(
        world.server, "totals", body([A1], ["favorites"]), world.other_app_alice.oauth(nonce=nonce)
    )
    assert other.status_code == 200, other.text
    again = call(world.server, "totals", body([A1], ["favorites"]), world.alice.oauth(nonce=nonce))
    assert_401(again, "Nonce already used")


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


CALLBACK = "https://app.example/oauth/callback"


def signature_of(response: requests.Response) -> str:
    """The oauth_signature a request carried in its Authorization header."""
    header = response.request.headers["Authorization"].decode()
    return unescape(dict(parse_authorization_header(header))["oauth_signature"])


def test_secrets_never_reach_the_logs(tmp_path):
    """Every kind of credential, sent well and badly, to a server logging at debug level: the
    log shows each request and none of the secrets."""
    prepared = prepare(tmp_path, world_records())
    cli(
        prepared.store,
        prepared.env,
        "apps",
        "set",
        str(prepared.app_id),
        "--callback-url",
        CALLBACK,
    )
    subprocess.run(
        [ENGAGEMENT_API, "--store", prepared.store, "users", "set-password", "alice"],
        input=PASSWORD + "\n", text=True, env=prepared.env, check=True, capture_output=True,
    )  # fmt: skip
    key, secret = prepared.consumer_key, prepared.consumer_secret
    secrets, signatures, seen = [secret, prepared.admin], [], []
    with serve(tmp_path, "--log-level", "debug", prepared=prepared) as served:
        url = served.url
        secrets.append(served.bearer)

        def send(path, expected, **kwargs):
            r = requests.post(url + path, timeout=30, **kwargs)
            assert r.status_code == expected, (path, r.text)
            if isinstance(kwargs.get("auth"), OAuth1):
                signatures.append(signature_of(r))
            route, query, _ = path.partition("?")
            seen.append(f'"POST {route}{"?[redacted]" if query else ""} HTTP/1.1" {expected}')
            return r

        # OAuth 2.0 bearer tokens: granted, refused, used, invalidated (body and query)
        grant = {"grant_type": "client_credentials"}
        send("/oauth2/token", 401, data=grant, auth=(key, "wrong"))
        bearers = [send("/oauth2/token", 200, data=grant, auth=(key, secret)).json()["access_token"]
                   for _ in range(2)]  # fmt: skip
        secrets += bearers
        totals = body([B1], ["favorites"])
        send(TOTALS, 200, json=totals, headers=bearer_header(bearers[0]))
        send("/oauth2/invalidate_token", 200, data={"access_token": bearers[0]}, auth=(key, secret))
        send(f"/oauth2/invalidate_token?access_token={bearers[1]}", 200, auth=(key, secret))
        send(TOTALS, 401, json=totals, headers=bearer_header(bearers[0]))
        # OAuth 1.0a app-only, well and badly signed
        send(TOTALS, 200, json=totals, auth=OAuth1(key, secret))
        send(TOTALS, 401, json=totals, auth=OAuth1(key, "wrong"))
        # the 3-legged flow: a request token, the user's consent, the access token
        send("/oauth/request_token", 401, auth=OAuth1(key, "wrong", callback_uri=CALLBACK))
        issued = parse_qs(
            send("/oauth/request_token", 200, auth=OAuth1(key, secret, callback_uri=CALLBACK)).text
        )
        request_token, request_secret = issued["oauth_token"][0], issued["oauth_token_secret"][0]
        secrets.append(request_secret)
        visitor = Visitor(url)
        consent = visitor.page(f"/oauth/authorize?oauth_token={request_token}")
        fields = form_to(consent.text, "/oauth/authorize")["fields"]
        fields.update(username="alice", password=PASSWORD, decision="allow")
        answer = visitor.post(
            url + "/oauth/authorize", data=fields, allow_redirects=False, timeout=30
        )
        verifier = parse_qs(urlsplit(answer.headers["location"]).query)["oauth_verifier"][0]
        secrets += [PASSWORD, verifier]
        leg3 = OAuth1(key, secret, request_token, request_secret, verifier=verifier)
        send("/oauth/access_token", 401, auth=OAuth1(key, secret, request_token, "wrong"))
        issued = parse_qs(send("/oauth/access_token", 200, auth=leg3).text)
        token, token_secret = issued["oauth_token"][0], issued["oauth_token_secret"][0]
        secrets.append(token_secret)
        # OAuth 1.0a user context with the token just issued, well and badly signed
        send(
            HR28, 200, json=body([A1], ["favorites"]), auth=OAuth1(key, secret, token, token_secret)
        )
        send(HR28, 401, json=body([A1], ["favorites"]), auth=OAuth1(key, secret, token, "wrong"))
        # live ingest with the admin token, and with a wrong one
        batch = json.dumps(event(A1, "favorites", "2026-11-20T12:00:00Z")).encode() + b"\n"
        ingest = {"Idempotency-Key": "logs-1"}
        send("/admin/ingest", 200, data=batch, headers={**ingest, **bearer_header(prepared.admin)})
        send("/admin/ingest", 401, data=batch, headers={**ingest, **bearer_header("wrong")})
    log = served.log.read_text()
    assert len(signatures) == 8
    for value in secrets + signatures:
        assert value not in log and quote(value, safe="") not in log, value
    for line in seen:  # the log was written, one line per request
        assert line in log, line


@pytest.mark.parametrize("endpoint", ["totals", "28hr", "historical"])
def test_user_context_works_on_every_endpoint(world, endpoint):
    r = call(world.server, endpoint, body([A1], ["favorites"]), world.alice.oauth())
    assert r.status_code == 200
