"""The command line as a user drives it: apps, tokens, demo, and `serve` as a real process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from contextlib import contextmanager

import pytest
import requests
from click.testing import CliRunner
from helpers import (
    A1,
    ALICE,
    NOW,
    body,
    free_port,
    ingest,
    make_app,
    make_user_credentials,
    world_records,
)
from oauthlib.oauth1.rfc5849 import signature as rfc5849
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header, unescape

from engagement_api.cli import main


def cli(store_url, *args):
    result = CliRunner().invoke(main, ["--store", store_url, "--now", NOW, *args])
    return result


@pytest.fixture
def url(store_url):
    return store_url


def test_apps_create_approve_and_list(url):
    created = cli(url, "apps", "create", "--name", "analytics")
    assert created.exit_code == 0, created.output
    app = json.loads(created.output)
    assert set(app) >= {"app_id", "consumer_key", "consumer_secret"}
    assert app["approved"] is True
    pending = json.loads(cli(url, "apps", "create", "--name", "p", "--unapproved").output)
    assert pending["approved"] is False
    approved = json.loads(cli(url, "apps", "approve", pending["app_id"]).output)
    assert approved["approved"] is True
    withdrawn = json.loads(cli(url, "apps", "unapprove", pending["app_id"]).output)
    assert withdrawn["approved"] is False
    listed = [json.loads(line) for line in cli(url, "apps", "list").output.splitlines()]
    assert [a["name"] for a in listed] == ["analytics", "p"]
    missing = cli(url, "apps", "approve", "999")
    assert missing.exit_code == 1 and "no app with id 999" in missing.output


def test_tokens_create(url):
    app = json.loads(cli(url, "apps", "create", "--name", "a").output)
    unknown = cli(url, "tokens", "create", "--app", app["app_id"], "--handle", "nobody")
    assert unknown.exit_code == 1
    assert "no user @nobody" in unknown.output
    made = cli(
        url, "tokens", "create", "--app", app["app_id"], "--handle", "@nobody", "--user-id", "12345"
    )
    assert made.exit_code == 0, made.output
    token = json.loads(made.output)
    assert token["user_id"] == "12345" and token["screen_name"] == "nobody"
    assert re.fullmatch(r"12345-[A-Za-z0-9]{40}", token["access_token"])
    assert len(token["access_token_secret"]) == 45
    again = json.loads(
        cli(url, "tokens", "create", "--app", app["app_id"], "--handle", "NOBODY").output
    )
    assert again["user_id"] == "12345" and again["access_token"] != token["access_token"]
    bad_app = cli(url, "tokens", "create", "--app", "77", "--handle", "nobody")
    assert bad_app.exit_code == 1 and "no app with id 77" in bad_app.output


def test_demo_seeds_once(url):
    first = cli(url, "demo")
    assert first.exit_code == 0, first.output
    assert "Seeded demo data" in first.stderr
    second = cli(url, "demo")
    assert "Demo data already in the store." in second.stderr
    assert json.loads(first.stdout[first.stdout.index("{") : first.stdout.index("}") + 1])


@contextmanager
def running(args, env=None, stdout=None):
    process = subprocess.Popen(
        ["engagement-api", *args],
        stdout=stdout or subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


def wait_ready(base, process):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            if requests.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


def test_serve_demo_prints_curl_lines_that_work(url, tmp_path):
    """The README's first command: the printed curl examples answer real data."""
    port = free_port()
    out = tmp_path / "demo.txt"
    with (
        open(out, "w") as stdout,
        running(
            ["--store", url, "serve", "--demo", "--port", str(port)],
            stdout=stdout,
        ) as process,
    ):
        wait_ready(f"http://127.0.0.1:{port}", process)
        text = out.read_text()
        blocks = re.findall(r"^curl .*?(?=\n\n|\Z)", text, flags=re.S | re.M)
        assert len(blocks) == 3
        for block in blocks:
            done = subprocess.run(
                ["bash", "-c", block.rstrip() + " -w '\\n%{http_code}'"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            answer, _, status = done.stdout.rpartition("\n")
            assert status == "200", (block, done.stdout, done.stderr)
            data = json.loads(answer)
            groupings = [v for k, v in data.items() if k not in ("start", "end")]
            assert groupings and all(groupings), data  # real, non-empty data


def test_serve_with_two_workers_and_a_frozen_clock(url):
    cli(url, "demo")
    port = free_port()
    with running(
        ["--store", url, "--now", NOW, "serve", "--workers", "2", "--port", str(port)]
    ) as process:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, process)
        statuses = {
            requests.post(f"{base}/insights/engagement/totals", timeout=10).status_code
            for _ in range(20)
        }
        assert statuses == {401}
        r = requests.get(f"{base}/openapi.json", timeout=10)
        assert r.status_code == 200


def test_serve_refuses_a_store_it_cannot_open(tmp_path):
    done = subprocess.run(
        ["engagement-api", "--store", "mysql://x", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Unsupported store URL" in done.stderr


def oauth_header(url: str, app, token=None, method="POST") -> str:
    """What `engagement-api oauth-header` prints for these credentials."""
    options = ["--url", url, "--consumer-key", app.consumer_key]
    options += ["--consumer-secret", app.consumer_secret, "--method", method]
    if token:
        options += ["--token", token.token, "--token-secret", token.secret]
    result = CliRunner().invoke(main, ["oauth-header", *options])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_oauth_header_signs_a_request(server):
    ingest(server.store, world_records())
    app = make_app(server.store)
    token = make_user_credentials(server.store, app, ALICE).token
    url = server.path("totals")
    for credentials in (token, None):  # user context, then app-only
        header = oauth_header(url, app, credentials)
        r = requests.post(
            url, json=body([A1], ["favorites"]), headers={"Authorization": header}, timeout=10
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"g": {str(A1): {"favorites": "16"}}}
    # the signature is HMAC-SHA1 over the base string of RFC 5849 3.4.1, query included
    signed = "https://api.example/insights/engagement/usage?month=2026-11"
    header = oauth_header(signed, app, token, method="get")
    params = [(k, unescape(v)) for k, v in parse_authorization_header(header)]
    assert dict(params)["oauth_signature_method"] == "HMAC-SHA1"
    assert dict(params)["oauth_token"] == token.token
    base = rfc5849.signature_base_string(
        "GET",
        rfc5849.base_string_uri(signed),
        rfc5849.normalize_parameters(
            [("month", "2026-11"), *(p for p in params if p[0] != "oauth_signature")]
        ),
    )
    expected = rfc5849.sign_hmac_sha1(base, app.consumer_secret, token.secret)
    assert dict(params)["oauth_signature"] == expected


def test_db_upgrade_is_idempotent_and_newer_schemas_are_refused(url, tmp_path):
    from engagement_api.store import open_store
    from engagement_api.store.migrations import latest

    engine = "postgresql" if url.startswith("postgres") else "sqlite"
    for _ in range(2):
        done = cli(url, "db", "upgrade")
        assert done.exit_code == 0, done.output
        assert f"schema version {latest(engine)} (this engagement-api: {latest(engine)})" in (
            done.output
        )
    with open_store(url) as store:
        store.set_meta("schema_version", str(latest(engine) + 1))
    refused = cli(url, "db", "upgrade")
    assert refused.exit_code == 1
    assert f"has schema version {latest(engine) + 1}" in refused.output
    done = subprocess.run(
        ["engagement-api", "--store", url, "serve"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "Upgrade engagement-api" in done.stderr
