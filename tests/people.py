"""People who sign in, for the tests of the portal and the 3-legged flow: a user with a
password, and a browser-like HTTP session that reads forms the way a person fills them."""

from __future__ import annotations

from html.parser import HTMLParser

import requests

from engagement_api.auth import passwords
from engagement_api.store import Store, User

PASSWORD = "correct horse battery staple"


def signed_up(store: Store, user_id: int, handle: str, admin: bool = False) -> User:
    """A user who can sign in with PASSWORD (an operator when `admin`)."""
    if store.get_user(user_id) is None:
        store.upsert_user(User(user_id, handle))
    store.set_password_hash(user_id, passwords.hash_password(PASSWORD))
    if admin:
        store.set_admin(user_id, True)
    return store.get_user(user_id)


class _Forms(HTMLParser):
    """Every <form>: its action and its fields' values (hidden ones included)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "form":
            self.forms.append({"action": found.get("action", ""), "fields": {}, "buttons": []})
        elif self.forms and tag in ("input", "textarea") and found.get("name"):
            self.forms[-1]["fields"][found["name"]] = found.get("value") or ""
        elif self.forms and tag == "button" and found.get("name"):
            self.forms[-1]["buttons"].append((found["name"], found.get("value", "")))


def forms_of(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def form_to(html: str, action: str) -> dict:
    """The form posting to `action`; fails when the page has none."""
    for found in forms_of(html):
        if found["action"] == action:
            return found
    raise AssertionError(f"no form to {action} in the page")


class Visitor(requests.Session):
    """A browser without a screen: cookies kept, redirects not followed unless asked."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def page(self, path: str, **kwargs) -> requests.Response:
        return self.get(self.base + path, timeout=30, **kwargs)

    def submit(self, page_path: str, action: str, **values: str) -> requests.Response:
        """Open `page_path`, fill the form posting to `action` with `values`, and send it."""
        shown = self.page(page_path)
        assert shown.status_code == 200, shown.text
        fields = {**form_to(shown.text, action)["fields"], **values}
        return self.post(self.base + action, data=fields, allow_redirects=False, timeout=30)

    def sign_in(self, handle: str, password: str = PASSWORD) -> requests.Response:
        answer = self.submit("/login", "/login", username=handle, password=password)
        return answer


class _Table(HTMLParser):
    """The cells of one <table id=...>, row by row, as text."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows = table_id, False, []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_of(html: str, table_id: str) -> list[list[str]]:
    """The rows of the table with this id (the header row first); fails when there is none."""
    parser = _Table(table_id)
    parser.feed(html)
    assert parser.rows, f"no table {table_id} in the page"
    return parser.rows
