"""The developer portal, the operator's page and the dashboard over HTTP, on both engines: what
a developer and an operator do there, and what an attacker cannot."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import requests
from helpers import (
    A1,
    A2,
    A_OLD,
    ALICE,
    BOB,
    body,
    call,
    ingest,
    make_app,
    make_user_credentials,
    world_records,
)
from people import PASSWORD, Visitor, form_to, signed_up, table_of
from requests_oauthlib import OAuth1
from serving import ENGAGEMENT_API, serve

from engagement_api.auth import passwords
from engagement_api.server.pages import CSRF_COOKIE, SESSION_COOKIE
from engagement_api.store import open_store
from engagement_api.store.secrets import SecretBox


@pytest.fixture
def people(server):
    """The world's posts; alice a developer, bob an operator, both signed up."""
    ingest(server.store, world_records())
    signed_up(server.store, ALICE, "alice")
    signed_up(server.store, BOB, "bob", admin=True)
    return server


def visitor(server, handle: str | None = None) -> Visitor:
    seen = Visitor(server.url)
    if handle:
        answer = seen.sign_in(handle)
        assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
    return seen


def created_app(seen: Visitor, name="Campaign Insights", callbacks="") -> tuple[int, str, str]:
    """Create an app in the portal: (its id, consumer key, consumer secret as shown once)."""
    answer = seen.submit("/", "/apps", name=name, callback_urls=callbacks)
    assert answer.status_code == 201, answer.text
    app_id = int(re.search(r'action="/apps/(\d+)/keys"', answer.text).group(1))
    key = re.search(r'id="consumer-key">([^<]+)<', answer.text).group(1)
    secret = re.search(r'id="consumer-secret">([^<]+)<', answer.text).group(1)
    return app_id, key, secret


def own_token(seen: Visitor, app_id: int) -> tuple[str, str]:
    answer = seen.submit(f"/apps/{app_id}", f"/apps/{app_id}/token")
    assert answer.status_code == 200, answer.text
    token = re.search(r'id="access-token">([^<]+)<', answer.text).group(1)
    secret = re.search(r'id="access-token-secret">([^<]+)<', answer.text).group(1)
    return token, secret


def test_pages_ask_to_sign_in_first(people):
    for path in ("/", "/dashboard", "/admin", "/apps/1"):
        answer = visitor(people).page(path, allow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/login", path


def test_sign_in_sets_a_safe_session_that_sign_out_ends(people):
    seen = Visitor(people.url)
    wrong = seen.sign_in("alice", "not the right password")
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
    answer = seen.sign_in("@Alice")  # the @ and the case do not matter
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(SESSION_COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    session = seen.cookies[SESSION_COOKIE]
    assert seen.page("/").status_code == 200
    assert seen.submit("/", "/logout").status_code == 303
    stolen = requests.get(
        people.url + "/", cookies={SESSION_COOKIE: session}, allow_redirects=False, timeout=30
    )
    assert stolen.status_code == 303  # the session ended on the server, not only in the browser


def test_behind_tls_the_cookies_are_secure(people):
    seen = Visitor(people.url)
    seen.headers["X-Forwarded-Proto"] = "https"
    page = seen.page("/login")
    assert "Secure" in page.headers["set-cookie"]


def test_every_page_carries_the_security_headers(people):
    seen = visitor(people, "bob")
    for path in ("/login", "/", "/dashboard", "/admin"):
        headers = seen.page(path).headers
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "script-src" not in policy  # no script at all
        assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
        assert headers["content-type"] == "text/html; charset=utf-8"


def test_every_form_needs_its_csrf_token_and_a_forged_one_changes_nothing(people):
    seen = visitor(people, "bob")  # an operator: every form is his to send
    app_id, _, _ = created_app(seen)
    posts = [
        "/apps",
        f"/apps/{app_id}/keys",
        f"/apps/{app_id}/token",
        f"/apps/{app_id}/callbacks",
        f"/apps/{app_id}/access",
        f"/admin/apps/{app_id}/decision",
        f"/admin/apps/{app_id}/contract",
        "/logout",
    ]
    fields = {
        "name": "forged",
        "decision": "approve",
        "rate_limit": "1",
        "callback_urls": "https://evil.example/",
    }
    before = people.store.get_app(app_id)
    for path in posts:
        for csrf in (None, "forged-token-" + "x" * 30):
            data = {**fields, **({"csrf": csrf} if csrf else {})}
            answer = seen.post(people.url + path, data=data, allow_redirects=False, timeout=30)
            assert answer.status_code == 403, path
    assert people.store.get_app(app_id) == before
    assert len(people.store.list_apps()) == 1
    assert not people.store.has_access_token(app_id, BOB)
    assert seen.page("/").status_code == 200  # still signed in
    # Before sign-in, the form's token must match its cookie.
    fresh = Visitor(people.url)
    answer = fresh.post(
        people.url + "/login",
        data={"username": "bob", "password": PASSWORD, "csrf": "x" * 43},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 403


def test_a_developer_creates_an_app_and_sees_its_secret_once(people):
    seen = visitor(people, "alice")
    app_id, key, secret = created_app(
        seen, callbacks="https://app.example/cb\nhttps://app.example/cb"
    )
    app = people.store.get_app(app_id)
    assert (app.consumer_key, app.consumer_secret, app.owner_id) == (key, secret, ALICE)
    assert app.callback_urls == ("https://app.example/cb",) and not app.approved
    page = seen.page(f"/apps/{app_id}").text
    assert key in page and secret not in page
    assert seen.page("/").text.count("Campaign Insights") == 1

    # Regenerating: a new secret, shown once; the old key stops working at once.
    answer = seen.submit(f"/apps/{app_id}", f"/apps/{app_id}/keys")
    new_secret = re.search(r'id="consumer-secret">([^<]+)<', answer.text).group(1)
    new_key = people.store.get_app(app_id).consumer_key
    assert new_key != key and new_secret != secret
    token = f"{people.url}/oauth2/token"
    grant = {"grant_type": "client_credentials"}
    assert requests.post(token, data=grant, auth=(key, secret), timeout=30).status_code == 401
    assert requests.post(token, data=grant, auth=(new_key, new_secret), timeout=30).ok


def test_own_tokens_work_once_an_operator_approves_the_app(people):
    alice, bob = visitor(people, "alice"), visitor(people, "bob")
    app_id, key, secret = created_app(alice)
    token, token_secret = own_token(alice, app_id)
    user = OAuth1(key, secret, token, token_secret)
    refused = call(people, "totals", body([A1], ["impressions"]), auth=user)
    assert refused.status_code == 403
    assert refused.json() == {"errors": ["Your application id is not authorized."]}

    answer = alice.submit(f"/apps/{app_id}", f"/apps/{app_id}/access")
    assert answer.status_code == 303
    assert "requested" in alice.page(f"/apps/{app_id}").text
    admin = bob.page("/admin").text
    decision = form_to(admin, f"/admin/apps/{app_id}/decision")
    assert ("decision", "approve") in decision["buttons"]
    assert bob.submit("/admin", f"/admin/apps/{app_id}/decision", decision="approve").ok
    assert people.store.access_request(app_id).status == "approved"

    got = call(people, "totals", body([A1], ["impressions"]), auth=user)
    assert got.status_code == 200, got.text
    assert got.json()["g"] == {str(A1): {"impressions": "1048"}}
    assert "approved" in alice.page(f"/apps/{app_id}").text

    # A new token replaces the old one.
    newer = own_token(alice, app_id)
    assert call(people, "totals", body([A1], ["impressions"]), auth=user).status_code == 401
    assert call(people, "totals", body([A1], ["impressions"]), auth=OAuth1(key, secret, *newer)).ok


def test_the_operator_sets_a_contract_that_the_api_keeps(people):
    alice, bob = visitor(people, "alice"), visitor(people, "bob")
    app_id, key, secret = created_app(alice)
    bob.submit("/admin", f"/admin/apps/{app_id}/decision", decision="approve")
    answer = bob.submit(
        "/admin", f"/admin/apps/{app_id}/contract", rate_limit="2", handle_limit="1"
    )
    assert answer.status_code == 303
    app = people.store.get_app(app_id)
    assert (app.rate_limit, app.handle_limit) == (2, 1)
    token = own_token(alice, app_id)
    user = OAuth1(key, secret, *token)
    statuses = [
        call(people, "totals", body([A1], ["impressions"]), auth=user).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    page = alice.page(f"/apps/{app_id}").text
    assert "@alice" in page  # this month's @handle usage
    bad = bob.submit("/admin", f"/admin/apps/{app_id}/contract", rate_limit="0", handle_limit="")
    assert bad.status_code == 400 and people.store.get_app(app_id).rate_limit == 2
    bob.submit("/admin", f"/admin/apps/{app_id}/contract", rate_limit="50", handle_limit="")
    assert people.store.get_app(app_id).handle_limit is None


def test_only_operators_and_owners_reach_what_is_theirs(people):
    alice, bob = visitor(people, "alice"), visitor(people, "bob")
    bobs_app, _, _ = created_app(bob, "Bob's")
    assert alice.page("/admin").status_code == 403
    assert alice.page(f"/apps/{bobs_app}").status_code == 404
    # alice posts to bob's app with her own valid CSRF token: still not hers.
    csrf = form_to(alice.page("/").text, "/apps")["fields"]["csrf"]
    for action in ("keys", "token", "callbacks", "access"):
        answer = alice.post(
            f"{people.url}/apps/{bobs_app}/{action}",
            data={"csrf": csrf},
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 404, action
    answer = alice.post(
        f"{people.url}/admin/apps/{bobs_app}/decision",
        data={"csrf": csrf, "decision": "approve"},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 403 and not people.store.get_app(bobs_app).approved
    assert bob.page(f"/apps/{bobs_app}").status_code == 200


def test_what_people_type_is_escaped(people):
    seen = visitor(people, "alice")
    app_id, _, _ = created_app(seen, name='<script>alert("x")</script>')
    page = seen.page(f"/apps/{app_id}").text
    assert "<script>" not in page and "&lt;script&gt;" in page
    answer = seen.submit(
        f"/apps/{app_id}", f"/apps/{app_id}/callbacks", callback_urls="javascript:alert(1)"
    )
    assert answer.status_code == 400 and people.store.get_app(app_id).callback_urls == ()


def test_the_dashboard_shows_what_the_api_answers(people):
    app = make_app(people.store, "reader")
    seen = visitor(people, "alice")
    page = seen.page("/dashboard")
    assert page.status_code == 200
    rows = {row[0]: row for row in table_of(page.text, "totals")[1:]}
    header = table_of(page.text, "totals")[0]
    assert set(rows) == {str(A1), str(A2), str(A_OLD), "1100000000000000004", "1100000000000000007"}
    impressions = header.index("impressions")
    alice = make_user_credentials(people.store, app, ALICE).oauth()  # the API's own answers
    got = call(people, "totals", body([A1, A2], ["impressions", "engagements"]), auth=alice).json()
    assert rows[str(A1)][impressions] == f"{int(got['g'][str(A1)]['impressions']):,}"
    assert rows[str(A2)][impressions] == f"{int(got['g'][str(A2)]['impressions']):,}"
    assert rows[str(A_OLD)][impressions] == "–"  # older than 90 days: not served
    # The hourly chart's figures: the /28hr answer summed over her posts, hour by hour.
    figures = table_of(page.text, "all-hourly-figures")[1:]
    hourly = call(
        people,
        "28hr",
        body(
            [A1, A2],
            ["impressions", "engagements"],
            {"g": {"group_by": ["engagement.type", "engagement.day", "engagement.hour"]}},
        ),
        auth=alice,
    ).json()["g"]
    expected = [
        (f"{day} {hour}:00", int(count))
        for day, hours in hourly["impressions"].items()
        for hour, count in hours.items()
    ]
    assert [(when, int(values[0])) for when, *values in figures] == expected
    assert sum(int(values[0]) for _, *values in figures) == 48


def test_the_dashboard_sorts_and_compares_sets(people):
    seen = visitor(people, "alice")
    page = seen.page("/dashboard", params={"sort": "impressions", "order": "asc"}).text
    order = [row[0] for row in table_of(page, "totals")[1:]]
    assert order.index(str(A2)) < order.index(str(A1))
    compared = seen.page("/dashboard", params={"a": f"{A1}", "b": f"{A2}, {A_OLD}", "days": "28"})
    assert compared.status_code == 200
    assert "Set A (1 posts)" in compared.text and "Set B (2 posts)" in compared.text
    assert table_of(compared.text, "set-a-figures") and table_of(compared.text, "set-b-figures")


def test_users_commands_set_passwords_and_operators(tmp_path):
    store = f"sqlite:///{tmp_path}/s.db"
    env_key = {"ENGAGEMENT_API_KEY_FILE": str(tmp_path / "key")}

    def run(*args, stdin=""):
        return subprocess.run(
            [ENGAGEMENT_API, "--store", store, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**os.environ, **env_key},
        )

    unknown = run("users", "set-password", "carol", stdin=PASSWORD + "\n")
    assert unknown.returncode == 1 and "no user @carol" in unknown.stderr
    made = run("users", "set-password", "carol", "--user-id", "77", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    assert '"screen_name": "carol"' in made.stdout and PASSWORD not in made.stdout
    short = run("users", "set-password", "carol", stdin="short\n")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    empty = run("users", "set-password", "carol")
    assert empty.returncode == 1 and "no password on stdin" in empty.stderr
    granted = run("users", "grant-admin", "@Carol")
    assert granted.returncode == 0 and '"admin": true' in granted.stdout
    revoked = run("users", "revoke-admin", "carol")
    assert revoked.returncode == 0 and '"admin": false' in revoked.stdout

    with open_store(
        store, secrets=SecretBox.from_file(env_key["ENGAGEMENT_API_KEY_FILE"])
    ) as opened:
        carol = opened.person("carol")
        assert carol.password_hash.startswith("$argon2id$")
        assert passwords.password_matches(carol.password_hash, PASSWORD)
        assert not carol.is_admin


def test_apps_set_callback_urls(tmp_path):
    env = {**os.environ, "ENGAGEMENT_API_KEY_FILE": str(tmp_path / "key")}
    store = f"sqlite:///{tmp_path}/s.db"

    def run(*args):
        return subprocess.run(
            [ENGAGEMENT_API, "--store", store, *args], capture_output=True, text=True, env=env
        )

    app = json.loads(run("apps", "create", "--name", "x").stdout)
    both = run(
        "apps", "set", app["app_id"],
        "--callback-url", "https://a.example/cb", "--callback-url", "http://127.0.0.1:9/cb",
    )  # fmt: skip
    assert both.returncode == 0, both.stderr
    assert json.loads(both.stdout)["callback_urls"] == [
        "https://a.example/cb",
        "http://127.0.0.1:9/cb",
    ]
    bad = run("apps", "set", app["app_id"], "--callback-url", "ftp://a.example/")
    assert bad.returncode == 2 and "Not a callback URL" in bad.stderr
    cleared = run("apps", "set", app["app_id"], "--clear-callback-urls")
    assert json.loads(cleared.stdout)["callback_urls"] == []


def test_set_password_ends_the_users_sessions(people):
    seen = visitor(people, "alice")
    signed_up(people.store, ALICE, "alice")  # a new password
    assert seen.page("/", allow_redirects=False).status_code == 303


def test_secrets_are_never_in_the_log(tmp_path):
    with serve(tmp_path) as served:
        command = ["users", "set-password", "dora", "--user-id", "5"]
        subprocess.run(
            [ENGAGEMENT_API, "--store", served.store, *command], input=PASSWORD + "\n",
            text=True, env=served.env, check=True, capture_output=True,
        )  # fmt: skip
        seen = Visitor(served.url)
        assert seen.sign_in("dora").status_code == 303
        app_id, _, secret = created_app(seen)
        _, token_secret = own_token(seen, app_id)
        session = seen.cookies[SESSION_COOKIE]
        csrf = seen.cookies[CSRF_COOKIE]
        seen.submit("/", "/logout")
    log = served.log.read_text()
    assert "POST /apps" in log  # the log was written
    for secret_value in (PASSWORD, secret, token_secret, session, csrf):
        assert secret_value not in log
