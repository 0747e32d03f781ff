"""A real headless browser for the web pages: Debian's chromium, driven through chromedriver by
Selenium, and axe-core (bundled with selenium-axe-python) for accessibility. A missing binary
fails the test that needs it (CI installs both), never skips it.

`Tour` walks every page as people use them; the browser test checks each step, and
`docs/screenshots.py` walks the same tour to photograph the pages.
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from requests_oauthlib import OAuth1Session
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait
from selenium_axe_python import Axe

DESKTOP = (1280, 900)
PHONE = (390, 844)  # a phone's CSS pixels
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def chromium(size: tuple[int, int] = DESKTOP) -> WebDriver:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        raise RuntimeError(
            "chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace to sandbox with
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--window-size={size[0]},{size[1]}",
    ):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    browser.set_page_load_timeout(30)
    # A headless window is at least 500 pixels wide: a phone's width is emulated instead.
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size < DESKTOP},
    )
    return browser


def accessibility_violations(browser: WebDriver) -> list[str]:
    """What axe-core finds wrong with the page shown (WCAG 2.1 A and AA, best practices)."""
    axe = Axe(browser)
    axe.inject()
    found = axe.run(options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found["violations"]
    ]


def overflows_sideways(browser: WebDriver) -> bool:
    """Whether the page is wider than the window (tables scroll inside their own box)."""
    return browser.execute_script(
        "return document.documentElement.scrollWidth > window.innerWidth + 1"
    )


def screenshot(browser: WebDriver, path: Path) -> None:
    """The whole page, not only the window, as the file's suffix says: .webp (a tenth of a
    PNG's size) or .png."""
    kind = path.suffix.lstrip(".")
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": kind,
            "captureBeyondViewport": True,
            **({"quality": 80} if kind == "webp" else {}),
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


@dataclass
class Tour:
    """The pages, in the order a developer and an operator meet them. `on_page(name)` is
    called on every page reached (the test checks it; the screenshot script photographs it)."""

    browser: WebDriver
    base: str
    on_page: Callable[[str], None] = lambda name: None
    seen: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.browser.get(self.base + path)

    def shown(self, name: str) -> None:
        self.seen.append(name)
        self.on_page(name)

    def text_of(self, element_id: str) -> str:
        return self.browser.find_element(By.ID, element_id).text

    def fill(self, **values: str) -> None:
        for name, value in values.items():
            box = self.browser.find_element(By.NAME, name)
            box.clear()
            box.send_keys(value)

    def press(self, text: str) -> None:
        """Click the button showing `text`, and wait for the page it leads to."""
        self.click(self.browser.find_element(By.XPATH, f'//button[normalize-space()="{text}"]'))

    def click(self, element) -> None:
        """Click, and wait until another document is loaded in the window."""
        self.browser.execute_script("window.tourLeaving = true")
        element.click()
        WebDriverWait(self.browser, 15).until(
            lambda b: b.execute_script(
                "return !window.tourLeaving && document.readyState === 'complete'"
            )
        )

    # -- the steps -------------------------------------------------------------------------
    def sign_in(self, handle: str, password: str) -> None:
        self.open("/login")
        self.shown("sign-in")
        self.fill(username=handle, password=password)
        self.press("Sign in")
        assert self.browser.find_element(By.TAG_NAME, "h1").text == "Your apps"

    def sign_out(self) -> None:
        self.press("Sign out")
        assert "/login" in self.browser.current_url

    def create_app(self, name: str, callback: str) -> dict[str, str]:
        """A new app: its id, consumer key and secret as the page shows them, once."""
        self.shown("apps")
        self.fill(name=name, callback_urls=callback)
        self.press("Create app")
        assert self.browser.find_element(By.TAG_NAME, "h1").text == name
        self.shown("app-created")
        form = self.browser.find_element(By.XPATH, '//form[contains(@action, "/keys")]')
        app_id = re.search(r"/apps/(\d+)/keys", form.get_attribute("action")).group(1)
        return {
            "app_id": app_id,
            "consumer_key": self.text_of("consumer-key"),
            "consumer_secret": self.text_of("consumer-secret"),
        }

    def request_access(self) -> None:
        self.press("Request Engagement API access")
        assert "Access requested" in self.browser.page_source

    def own_token(self) -> dict[str, str]:
        self.press("Generate access token and secret")
        self.shown("app-token")
        return {
            "access_token": self.text_of("access-token"),
            "access_token_secret": self.text_of("access-token-secret"),
        }

    def approve(self, app_id: str) -> None:
        self.open("/admin")
        self.shown("operator")
        form = f'//form[@action="/admin/apps/{app_id}/decision"]'
        self.click(self.browser.find_element(By.XPATH, f'{form}//button[@value="approve"]'))
        assert self.browser.current_url.endswith("/admin")

    def dashboard(self, query: str = "") -> None:
        self.open("/dashboard" + query)
        self.shown("dashboard" if not query else "dashboard-compare")

    def chart_figures(self, chart_id: str) -> list[tuple[str, int, int]]:
        """A chart's figures as its table holds them: (when, impressions, engagements)."""
        self.browser.find_element(
            By.XPATH, f'//table[@id="{chart_id}-figures"]/ancestor::details/summary'
        ).click()
        rows = self.browser.find_elements(By.CSS_SELECTOR, f"#{chart_id}-figures tbody tr")
        figures = []
        for row in rows:
            cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
            figures.append((cells[0], int(cells[1]), int(cells[2])))
        return figures

    def post_ids(self) -> list[str]:
        rows = self.browser.find_elements(By.CSS_SELECTOR, "#totals tbody tr")
        return [row.get_attribute("data-post") for row in rows]

    def authorize(self, url: str, handle: str, password: str) -> str:
        """Answer an app's authorization page (an oob callback): the PIN shown."""
        self.browser.get(url)
        self.shown("authorize")
        self.fill(username=handle, password=password)
        self.press("Authorize app")
        self.shown("authorized")
        return self.text_of("pin")

    # -- the whole tour ------------------------------------------------------------------------
    def walk(
        self,
        developer: str,
        operator: str,
        password: str,
        before_approval: Callable[[dict, dict], None] = lambda app, token: None,
    ) -> Walked:
        """A developer creates an app, asks for access and makes their token; an operator
        approves it; the developer opens the dashboard, compares posts, and authorizes their
        app through the 3-legged flow. `before_approval(app, token)` runs while the app waits
        for the operator."""
        self.sign_in(developer, password)
        app = self.create_app("Campaign Insights", "https://app.example/oauth/callback")
        self.request_access()
        token = self.own_token()
        before_approval(app, token)
        self.sign_out()
        self.sign_in(operator, password)
        self.approve(app["app_id"])
        self.sign_out()
        self.sign_in(developer, password)
        self.dashboard()
        post_ids = self.post_ids()
        hourly = self.chart_figures("all-hourly")
        self.dashboard(f"?a={post_ids[0]}&b={','.join(post_ids[1:3])}&days=28")
        compared = self.chart_figures("set-b")
        flow = OAuth1Session(app["consumer_key"], app["consumer_secret"], callback_uri="oob")
        flow.fetch_request_token(f"{self.base}/oauth/request_token")
        authorize = flow.authorization_url(f"{self.base}/oauth/authorize")
        pin = self.authorize(authorize, developer, password)
        granted = flow.fetch_access_token(f"{self.base}/oauth/access_token", verifier=pin)
        return Walked(app, token, post_ids, hourly, compared, granted)


@dataclass
class Walked:
    """What the tour read off the pages."""

    app: dict[str, str]
    token: dict[str, str]
    post_ids: list[str]
    hourly: list[tuple[str, int, int]]  # the summed hourly chart's figures
    compared: list[tuple[str, int, int]]  # set B's daily figures
    granted: dict[str, str]  # the 3-legged flow's answer
