"""The portal, the operator's page, the dashboard and the authorize page in a real headless
chromium: what a developer and an operator do, the figures of a chart against the API's
answers, accessibility (axe-core, WCAG 2.1 AA) on every page, and phone width."""

from __future__ import annotations

import contextlib
import time

import pytest
import requests
from browser import PHONE, Tour, accessibility_violations, chromium, overflows_sideways
from helpers import running
from people import PASSWORD, signed_up
from requests_oauthlib import OAuth1

from engagement_api import demo, spec
from engagement_api.server import create_app
from engagement_api.store import open_store

DEVELOPER, OPERATOR = "XDevelopers", "operator"
PAGES = {"sign-in", "apps", "app-created", "app-token", "operator", "dashboard",
         "dashboard-compare", "authorize", "authorized"}  # fmt: skip
TOTALS = {"tweet_ids": ["1"], "engagement_types": ["impressions"],
          "groupings": {"g": {"group_by": ["tweet.id", "engagement.type"]}}}  # fmt: skip


def user_of(app: dict, token: dict) -> OAuth1:
    return OAuth1(
        app["consumer_key"], app["consumer_secret"], token["access_token"],
        token["access_token_secret"],
    )  # fmt: skip


@pytest.fixture
def site(tmp_path):
    """A server on a SQLite store holding the demo data; the demo's user a developer who signs
    in, and an operator."""
    with open_store(f"sqlite:///{tmp_path}/store.db") as store:
        demo.seed(store, time.time())
        developer = store.find_user(DEVELOPER)
        signed_up(store, developer.id, DEVELOPER)
        signed_up(store, 1, OPERATOR, admin=True)
        with running(create_app(store)) as base:
            yield base


def hourly_from_the_api(base: str, user: OAuth1, post_ids: list[str]) -> list[tuple]:
    """/28hr summed over the posts, hour by hour: (when, impressions, engagements)."""
    sums: dict[str, list[int]] = {}
    grouping = {"g": {"group_by": ["engagement.type", "engagement.day", "engagement.hour"]}}
    for start in range(0, len(post_ids), spec.HOURS28.max_ids):
        document = {
            "tweet_ids": post_ids[start : start + spec.HOURS28.max_ids],
            "engagement_types": ["impressions", "engagements"],
            "groupings": grouping,
        }
        answer = requests.post(f"{base}/insights/engagement/28hr", json=document, auth=user)
        assert answer.status_code == 200, answer.text
        for column, metric in enumerate(("impressions", "engagements")):
            for day, hours in answer.json()["g"][metric].items():
                for hour, count in hours.items():
                    sums.setdefault(f"{day} {hour}:00", [0, 0])[column] += int(count)
    return [(when, *counts) for when, counts in sums.items()]


def test_a_developer_and_an_operator_in_a_real_browser(site):
    problems: dict[str, list[str]] = {}
    refused: list[int] = []

    def unapproved_call(app: dict, token: dict) -> None:
        answer = requests.post(
            f"{site}/insights/engagement/totals", json=TOTALS, auth=user_of(app, token)
        )
        refused.append(answer.status_code)

    with contextlib.closing(chromium()) as browser:

        def check(name: str) -> None:
            problems[name] = accessibility_violations(browser)

        walked = Tour(browser, site, check).walk(DEVELOPER, OPERATOR, PASSWORD, unapproved_call)

    assert refused == [403]  # before the operator approved the app
    user = user_of(walked.app, walked.token)
    assert requests.post(f"{site}/insights/engagement/totals", json=TOTALS, auth=user).ok
    assert len(walked.post_ids) > 1
    assert walked.hourly == hourly_from_the_api(site, user, walked.post_ids)
    assert sum(row[1] for row in walked.hourly) > 0
    assert len(walked.compared) in (28, 29)  # set B, every day of four weeks
    assert walked.granted["screen_name"] == DEVELOPER
    assert problems == {name: [] for name in PAGES}


def test_the_accessibility_check_finds_what_is_wrong():
    with contextlib.closing(chromium()) as browser:
        browser.get("data:text/html,<html><body><input type=text></body></html>")
        found = accessibility_violations(browser)
    assert any(problem.startswith("label ") for problem in found), found


def test_every_page_fits_a_phone(site):
    with contextlib.closing(chromium(PHONE)) as browser:
        tour = Tour(browser, site)
        tour.sign_in(OPERATOR, PASSWORD)
        app = tour.create_app("Phone app", "https://app.example/cb")
        wide: list[str] = []
        for path in ("/", f"/apps/{app['app_id']}", "/admin", "/dashboard", "/login"):
            tour.open(path)
            if overflows_sideways(browser):
                wide.append(path)
            assert accessibility_violations(browser) == [], path
        assert wide == []
