"""What every web page shares: rendering (Jinja2, escaped), security headers, forms with CSRF
tokens, sessions, and throttled sign-in.

Security as a bank's login page would have it: sessions in `HttpOnly`, `SameSite=Strict`
cookies (`Secure` behind TLS), kept in the store only as hashes; a CSRF token in every form
(the session's, or a double-submitted cookie's before sign-in); sign-in throttled per user and
per client address; passwords checked with argon2 off the event loop; every page framed by
nobody, cached by nobody, and held to a Content Security Policy without inline code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import spec
from ..auth import passwords
from ..contract import ContractUnavailable
from ..engagement import Services
from ..store.people import Person
from .asgi import body_of

SESSION_COOKIE = "engagement_session"
CSRF_COOKIE = "engagement_csrf"
SESSION_SECONDS = 8 * spec.HOUR
_TEMPLATES = Environment(
    loader=PackageLoader("engagement_api.portal", "templates"),
    autoescape=select_autoescape(["html"]),
)
EXPIRED_FORM = ("This form has expired", "Reload the page and try again.")


def session_hash(value: str) -> str:
    """Sessions are kept as hashes: a read of the store cannot sign anyone in."""
    return hashlib.sha256(value.encode()).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


class Page(Exception):
    """An answer decided early (a redirect to sign in, a refusal page)."""

    def __init__(self, response: Response) -> None:
        self.response = response


def page_route(handler: Callable[[Request], Awaitable[Response]]):
    """A page's route: an early answer (`Page`) is the answer."""

    async def route(request: Request) -> Response:
        try:
            return await handler(request)
        except Page as early:
            return early.response

    return route


def secure(response: Response, form_to: str = "") -> Response:
    """The headers of every page; `form_to` an origin a form may also post to."""
    forms = "'self'" + (f" {form_to}" if form_to else "")
    response.headers["content-security-policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        f"form-action {forms}; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["x-frame-options"] = "DENY"
    response.headers["referrer-policy"] = "no-referrer"
    response.headers["cache-control"] = "no-store"
    return response


def redirect(target: str, form_to: str = "") -> Response:
    return secure(RedirectResponse(target, 303), form_to)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def form(request: Request) -> dict[str, str]:
    """The fields of an urlencoded form (its body was read, bounded, before routing)."""
    return dict(parse_qsl(bytes(body_of(request)).decode("utf-8", "replace")))


def behind_tls(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip() == "https"


class Pages:
    """Rendering and sign-in for the routes of one server."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = services.store

    # -- answering ---------------------------------------------------------------------------
    def render(self, template: str, status: int = 200, form_to: str = "", **values) -> Response:
        values.setdefault("person", None)
        values.setdefault("csrf", "")
        html = _TEMPLATES.get_template(template).render(**values)
        return secure(Response(html, status, media_type="text/html; charset=utf-8"), form_to)

    def refuse(self, status: int, heading: str, *lines: str, **values) -> Response:
        return self.render(
            "message.html", status, title=heading, heading=heading, lines=lines, **values
        )

    # -- CSRF before sign-in: a double-submitted cookie --------------------------------------
    @staticmethod
    def anonymous_csrf(request: Request) -> tuple[str, bool]:
        """(the token, whether it is new and must be set as a cookie)."""
        token = request.cookies.get(CSRF_COOKIE)
        return (token, False) if token and len(token) == 43 else (secrets.token_urlsafe(32), True)

    @staticmethod
    def with_csrf_cookie(request: Request, response: Response, token: str, new: bool):
        if new:
            response.set_cookie(
                CSRF_COOKIE, token, httponly=True, samesite="strict", secure=behind_tls(request)
            )
        return response

    def check_anonymous_csrf(self, request: Request, fields: dict[str, str]) -> None:
        if not same(fields.get("csrf"), request.cookies.get(CSRF_COOKIE)):
            raise Page(self.refuse(403, *EXPIRED_FORM))

    # -- sessions ----------------------------------------------------------------------------
    def signed_in(self, request: Request) -> tuple[Person, str]:
        """(the person, their session's CSRF token), or a redirect to the sign-in page."""
        cookie = request.cookies.get(SESSION_COOKIE)
        session = self.store.session(session_hash(cookie), int(time.time())) if cookie else None
        person = self.store.person_by_id(session.user_id) if session else None
        if person is None or person.password_hash is None:
            raise Page(redirect("/login"))
        return person, session.csrf

    def checked(self, request: Request, fields: dict[str, str]) -> tuple[Person, str]:
        """`signed_in`, for a form: its CSRF token must be the session's."""
        person, csrf = self.signed_in(request)
        if not same(fields.get("csrf"), csrf):
            raise Page(self.refuse(403, *EXPIRED_FORM, person=person, csrf=csrf))
        return person, csrf

    def operator(self, request: Request, fields: dict[str, str] | None = None):
        person, csrf = (
            self.checked(request, fields) if fields is not None else self.signed_in(request)
        )
        if not person.is_admin:
            raise Page(
                self.refuse(403, "Operators only", "Ask an operator.", person=person, csrf=csrf)
            )
        return person, csrf

    async def start_session(self, request: Request, person: Person) -> Response:
        session, now = secrets.token_urlsafe(32), int(time.time())
        expires = now + SESSION_SECONDS
        await run_in_threadpool(
            self.services.writer.add_session, session_hash(session), person.user.id,
            secrets.token_urlsafe(32), now, expires,
        )  # fmt: skip
        response = redirect("/")
        response.set_cookie(
            SESSION_COOKIE, session, max_age=SESSION_SECONDS, httponly=True,
            samesite="strict", secure=behind_tls(request),
        )  # fmt: skip
        return response

    async def end_session(self, request: Request) -> None:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        await run_in_threadpool(self.services.writer.end_session, session_hash(cookie))

    # -- sign-in -----------------------------------------------------------------------------
    async def sign_in(self, request: Request, username: str, password: str) -> Person | None:
        """The person, if the password is theirs; None otherwise. A 429 page (`Page`) when
        this user or this address failed too often of late, 503 when the count is out of
        reach. Every attempt costs one argon2 check, known name or not."""
        username = username.strip().removeprefix("@")
        person = await run_in_threadpool(self.store.person, username) if username else None
        user_key = f"user:{person.user.id}" if person else f"name:{username.lower()[:64]}"
        address_key = f"address:{request.client.host if request.client else '?'}"
        window, contract = passwords.THROTTLE_WINDOW, self.services.contract
        try:
            if (
                contract.attempts(user_key, window, add=False) >= passwords.USER_FAILURES
                or contract.attempts(address_key, window, add=False) >= passwords.ADDRESS_FAILURES
            ):
                wait = f"Wait {window // 60} minutes, then try again."
                raise Page(self.refuse(429, "Too many attempts", wait))
            stored = person.password_hash if person else None
            if await run_in_threadpool(passwords.password_matches, stored, password):
                return person
            contract.attempts(user_key, window, add=True)
            contract.attempts(address_key, window, add=True)
            return None
        except ContractUnavailable:
            raise Page(self.refuse(503, "Signing in is unavailable", "Try again soon.")) from None
