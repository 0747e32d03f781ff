"""The 3-legged OAuth 1.0a flow end to end, with requests-oauthlib's OAuth1Session as the app
and an HTTP session filling the authorize form as the user; and every way it must fail."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from helpers import (
    A1,
    A2,
    ALICE,
    B1,
    BOB,
    NOW,
    body,
    free_port,
    ingest,
    make_app,
    running,
    world_records,
)
from people import PASSWORD, Visitor, form_to, signed_up
from requests_oauthlib import OAuth1, OAuth1Session
from requests_oauthlib.oauth1_session import TokenRequestDenied

from engagement_api.clock import FrozenClock
from engagement_api.contract.redis_backend import RedisContract
from engagement_api.server import create_app
from engagement_api.times import parse_instant

CALLBACK = "https://app.example/oauth/callback"


class Flow:
    """A server (its wall clock movable), an app with CALLBACK registered, alice signed up."""

    def __init__(self, store, url: str, wall: FrozenClock) -> None:
        self.store, self.url, self.wall = store, url, wall
        self.app = make_app(store, "Campaign Insights")
        store.set_callback_urls(self.app.id, [CALLBACK])

    def session(self, callback: str = CALLBACK, **signer) -> OAuth1Session:
        """The app's side; it signs with the server's wall clock as its own."""
        signer.setdefault("timestamp", str(int(self.wall.now())))
        return OAuth1Session(
            self.app.consumer_key, self.app.consumer_secret, callback_uri=callback, **signer
        )

    def request_token(self, app: OAuth1Session) -> dict:
        return app.fetch_request_token(self.url + "/oauth/request_token")

    def user_answers(self, app: OAuth1Session, decision="allow", password=PASSWORD, handle="alice"):
        """The user opens the authorize page and answers its form: the answer."""
        visitor = Visitor(self.url)
        authorize = app.authorization_url(self.url + "/oauth/authorize")
        page = visitor.get(authorize, timeout=30)
        assert page.status_code == 200, page.text
        fields = form_to(page.text, "/oauth/authorize")["fields"]
        fields.update(username=handle, password=password, decision=decision)
        return visitor.post(
            self.url + "/oauth/authorize", data=fields, allow_redirects=False, timeout=30
        )

    def access_token(self, app: OAuth1Session, verifier: str) -> requests.Response:
        """Leg 3 signed by hand, so that a refusal's answer can be read."""
        token = app.token  # the request token and secret
        signer = OAuth1(
            self.app.consumer_key,
            self.app.consumer_secret,
            token["oauth_token"],
            token["oauth_token_secret"],
            verifier=verifier,
            timestamp=str(int(self.wall.now())),
        )
        return requests.post(self.url + "/oauth/access_token", auth=signer, timeout=30)


@pytest.fixture
def flow(store):
    ingest(store, world_records())
    signed_up(store, ALICE, "alice")
    wall = FrozenClock(time.time())
    app = create_app(store, FrozenClock(parse_instant(NOW)), wall_clock=wall)
    with running(app) as url:
        yield Flow(store, url, wall)


def verifier_of(answer: requests.Response) -> dict[str, str]:
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_the_flow_end_to_end_gives_tokens_that_answer_28hr_for_the_user(flow):
    app = flow.session()
    issued = flow.request_token(app)
    assert issued["oauth_callback_confirmed"] == "true"

    visitor = Visitor(flow.url)
    page = visitor.get(app.authorization_url(flow.url + "/oauth/authorize"), timeout=30)
    assert "Campaign Insights" in page.text
    found = form_to(page.text, "/oauth/authorize")
    assert {"username", "password", "csrf", "oauth_token"} <= set(found["fields"])
    assert ("decision", "allow") in found["buttons"] and ("decision", "deny") in found["buttons"]
    assert "HttpOnly" in page.headers["set-cookie"]
    assert "SameSite=strict" in page.headers["set-cookie"]

    answer = visitor.post(
        flow.url + "/oauth/authorize",
        data={**found["fields"], "username": "alice", "password": PASSWORD, "decision": "allow"},
        allow_redirects=False,
        timeout=30,
    )
    back = verifier_of(answer)
    assert back["oauth_token"] == issued["oauth_token"]
    app.parse_authorization_response(answer.headers["location"])
    tokens = app.fetch_access_token(flow.url + "/oauth/access_token")
    assert tokens["user_id"] == str(ALICE) and tokens["screen_name"] == "alice"

    user = OAuth1(
        flow.app.consumer_key,
        flow.app.consumer_secret,
        tokens["oauth_token"],
        tokens["oauth_token_secret"],
    )
    got = requests.post(
        flow.url + "/insights/engagement/28hr",
        json=body([A1], ["impressions", "favorites"]),
        auth=user,
        timeout=30,
    )
    assert got.status_code == 200, got.text
    assert got.json()["g"] == {str(A1): {"impressions": "48", "favorites": "16"}}
    # The user's token reads only the user's posts.
    other = requests.post(
        flow.url + "/insights/engagement/28hr",
        json=body([B1], ["impressions"]),
        auth=user,
        timeout=30,
    )
    assert other.status_code == 403 and str(B1) in other.text


def test_oob_shows_a_pin_that_is_the_verifier(flow):
    app = flow.session(callback="oob")
    flow.request_token(app)
    answer = flow.user_answers(app)
    assert answer.status_code == 200
    pin = answer.text.split('id="pin">')[1].split("<")[0]
    got = flow.access_token(app, pin)
    assert got.status_code == 200, got.text
    assert parse_qs(got.text)["screen_name"] == ["alice"]


def test_a_callback_not_registered_is_refused_with_xs_text(flow):
    with pytest.raises(TokenRequestDenied) as refused:
        flow.request_token(flow.session(callback="https://evil.example/steal"))
    assert refused.value.status_code == 403
    assert refused.value.response.json() == {
        "errors": ["Callback URL not approved for this client application."]
    }
    with pytest.raises(TokenRequestDenied) as missing:
        flow.request_token(flow.session(callback=None))
    assert missing.value.status_code == 400


def test_a_badly_signed_or_replayed_request_token_request_is_refused(flow):
    wrong = OAuth1Session(flow.app.consumer_key, "not-the-secret", callback_uri=CALLBACK)
    with pytest.raises(TokenRequestDenied) as refused:
        wrong.fetch_request_token(flow.url + "/oauth/request_token")
    assert refused.value.status_code == 401
    signer = OAuth1(
        flow.app.consumer_key,
        flow.app.consumer_secret,
        callback_uri=CALLBACK,
        nonce="same-nonce-twice",
        timestamp=str(int(flow.wall.now())),
    )
    first = requests.post(flow.url + "/oauth/request_token", auth=signer, timeout=30)
    second = requests.post(flow.url + "/oauth/request_token", auth=signer, timeout=30)
    assert first.status_code == 200 and second.status_code == 401
    assert second.json()["errors"] == [
        "Your account could not be authenticated. Reason: Nonce already used"
    ]


def test_a_wrong_password_grants_nothing(flow):
    app = flow.session()
    flow.request_token(app)
    answer = flow.user_answers(app, password="not the password at all")
    assert answer.status_code == 401
    assert "Wrong username or password." in answer.text
    got = flow.access_token(app, "a-guessed-verifier")
    assert got.status_code == 401
    assert got.json()["errors"] == ["This request token was not authorized by the user"]
    # The user may still answer with the right password.
    back = verifier_of(flow.user_answers(app))
    assert flow.access_token(app, back["oauth_verifier"]).status_code == 200


def test_a_verifier_works_once_and_a_wrong_one_not_at_all(flow):
    app = flow.session()
    flow.request_token(app)
    back = verifier_of(flow.user_answers(app))
    wrong = flow.access_token(app, back["oauth_verifier"][::-1])
    assert wrong.status_code == 401
    assert wrong.json()["errors"] == ["Invalid oauth_verifier for this request token"]
    first = flow.access_token(app, back["oauth_verifier"])
    assert first.status_code == 200
    again = flow.access_token(app, back["oauth_verifier"])
    assert again.status_code == 401
    assert again.json()["errors"] == [
        "This request token was already exchanged for an access token"
    ]


def test_a_request_token_expires_after_15_minutes(flow):
    app = flow.session()
    flow.request_token(app)
    back = verifier_of(flow.user_answers(app))
    flow.wall.instant += 15 * 60 + 1
    late = flow.access_token(app, back["oauth_verifier"])
    assert late.status_code == 401
    assert "expired" in late.json()["errors"][0]

    unanswered = flow.session()
    flow.request_token(unanswered)
    flow.wall.instant += 15 * 60 + 1
    page = Visitor(flow.url).get(unanswered.authorization_url(flow.url + "/oauth/authorize"))
    assert page.status_code == 400 and "expired" in page.text


def test_a_denied_consent_goes_back_with_denied_and_grants_nothing(flow):
    app = flow.session()
    issued = flow.request_token(app)
    answer = flow.user_answers(app, decision="deny", password="")
    assert answer.status_code == 303
    assert parse_qs(urlsplit(answer.headers["location"]).query) == {
        "denied": [issued["oauth_token"]]
    }
    got = flow.access_token(app, "anything")
    assert got.status_code == 401
    assert got.json()["errors"] == ["The user denied this authorization"]
    # Answered once: the authorize page does not take it again.
    page = Visitor(flow.url).get(app.authorization_url(flow.url + "/oauth/authorize"))
    assert page.status_code == 400


def test_the_authorize_form_needs_its_csrf_token(flow):
    app = flow.session()
    issued = flow.request_token(app)
    forged = requests.post(
        flow.url + "/oauth/authorize",
        data={
            "oauth_token": issued["oauth_token"],
            "username": "alice",
            "password": PASSWORD,
            "decision": "allow",
        },
        allow_redirects=False,
        timeout=30,
    )
    assert forged.status_code == 403
    assert flow.access_token(app, "x").json()["errors"] == [
        "This request token was not authorized by the user"
    ]


def test_sign_in_is_throttled_per_user(flow):
    app = flow.session()
    flow.request_token(app)
    for _ in range(5):
        assert flow.user_answers(app, password="wrong password here").status_code == 401
    # The right password now waits too: the attempts counted, not the outcome.
    throttled = flow.user_answers(app)
    assert throttled.status_code == 429 and "Too many attempts" in throttled.text
    # Another user on the same address is not locked out by alice's failures.
    signed_up(flow.store, BOB, "bob")
    assert flow.user_answers(app, handle="bob").status_code == 303


def test_a_token_of_the_flow_sees_only_posts_the_user_may_see(flow):
    app = flow.session()
    flow.request_token(app)
    back = verifier_of(flow.user_answers(app))
    tokens = parse_qs(flow.access_token(app, back["oauth_verifier"]).text)
    user = OAuth1(
        flow.app.consumer_key,
        flow.app.consumer_secret,
        tokens["oauth_token"][0],
        tokens["oauth_token_secret"][0],
    )
    got = requests.post(
        flow.url + "/insights/engagement/historical",
        json=body(
            [A2],
            ["impressions"],
            start="2026-11-01T00:00:00Z",
            end="2026-11-20T00:00:00Z",
        ),
        auth=user,
        timeout=30,
    )
    assert got.status_code == 200, got.text
    assert got.json()["g"] == {str(A2): {"impressions": "500"}}


def test_without_the_contract_backend_the_flow_answers_503_and_grants_nothing(store):
    """Nonces and sign-in attempts are counted in the contract backend: with it out of reach
    (a Redis nobody listens for), nothing is let through unchecked."""
    app = make_app(store)
    store.set_callback_urls(app.id, [CALLBACK])
    signed_up(store, ALICE, "alice")
    unreachable = RedisContract(f"redis://127.0.0.1:{free_port()}/0")
    with running(create_app(store, contract=unreachable)) as url:
        signer = OAuth1Session(app.consumer_key, app.consumer_secret, callback_uri=CALLBACK)
        with pytest.raises(TokenRequestDenied) as refused:
            signer.fetch_request_token(url + "/oauth/request_token")
        assert refused.value.status_code == 503
        page = Visitor(url).sign_in("alice")
        assert page.status_code == 503 and "Signing in is unavailable" in page.text
