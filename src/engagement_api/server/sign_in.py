"""Signing in: the portal's sign-in page, and the 3-legged OAuth flow (its two signed endpoints
and its authorize page). The flow itself lives in `auth.three_legged`; these routes read the
request and write the answer."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth import three_legged
from ..errors import ApiError
from .asgi import body_of, signed_request
from .pages import SESSION_COOKIE, Pages, form, origin, page_route, redirect

FORM = "application/x-www-form-urlencoded"
WRONG_PASSWORD = "Wrong username or password."


def sign_in_routes(pages: Pages) -> list[Route]:
    services = pages.services

    async def login(request: Request) -> Response:
        token, new = pages.anonymous_csrf(request)
        if request.method == "GET":
            shown = pages.render("login.html", title="Sign in", csrf=token)
            return pages.with_csrf_cookie(request, shown, token, new)
        fields = form(request)
        pages.check_anonymous_csrf(request, fields)
        username = fields.get("username", "")
        person = await pages.sign_in(request, username, fields.get("password", ""))
        if person is None:
            return pages.render(
                "login.html", 401, title="Sign in", csrf=token, username=username,
                error=WRONG_PASSWORD,
            )  # fmt: skip
        return await pages.start_session(request, person)

    async def logout(request: Request) -> Response:
        pages.checked(request, form(request))
        await pages.end_session(request)
        response = redirect("/login")
        response.delete_cookie(SESSION_COOKIE)
        return response

    # -- the 3-legged flow -------------------------------------------------------------------
    async def signed_leg(request: Request, leg) -> Response:
        services.memory.refresh()
        signed = signed_request(request.scope, request.headers, body_of(request))
        answer = await run_in_threadpool(
            leg, services.memory.accounts, services.writer, services.contract, signed,
            services.wall_clock.now(),
        )  # fmt: skip
        return Response(answer, 200, media_type=FORM)

    async def request_token(request: Request) -> Response:
        return await signed_leg(request, three_legged.request_token)

    async def access_token(request: Request) -> Response:
        return await signed_leg(request, three_legged.access_token)

    async def authorize(request: Request) -> Response:
        token, new = pages.anonymous_csrf(request)
        posted = request.method == "POST"
        fields = form(request) if posted else dict(request.query_params)
        try:
            pending = three_legged.pending_request(
                pages.store, fields.get("oauth_token"), services.wall_clock.now()
            )
        except ApiError as error:
            return pages.refuse(400, "This authorization cannot go on", *error.messages)
        app = pages.store.get_app(pending.app_id)
        form_to = "" if pending.callback == three_legged.OOB else origin(pending.callback)
        values = {
            "title": f"Authorize {app.name}", "app": app, "oauth_token": pending.token,
            "csrf": token, "form_to": form_to,
        }  # fmt: skip
        if not posted:
            return pages.with_csrf_cookie(
                request, pages.render("authorize.html", **values), token, new
            )
        pages.check_anonymous_csrf(request, fields)
        if fields.get("decision") != "allow":
            target = await run_in_threadpool(three_legged.deny, services.writer, pending)
            if target is None:
                return pages.refuse(200, "Authorization refused", f"{app.name} was not authorized.")
            return redirect(target, form_to)
        username = fields.get("username", "")
        person = await pages.sign_in(request, username, fields.get("password", ""))
        if person is None:
            return pages.render(
                "authorize.html", 401, username=username, error=WRONG_PASSWORD, **values
            )
        try:
            target = await run_in_threadpool(
                three_legged.authorize, services.writer, pending, person.user.id
            )
        except ApiError as error:
            return pages.refuse(400, "This authorization cannot go on", *error.messages)
        if pending.callback != three_legged.OOB:
            return redirect(target, form_to)
        return pages.render(
            "message.html", title="Authorized", heading=f"You authorized {app.name}",
            lines=["Return to the app and enter this PIN there."], pin=target, app_name=app.name,
        )  # fmt: skip

    return [
        Route("/login", page_route(login), methods=["GET", "POST"]),
        Route("/logout", page_route(logout), methods=["POST"]),
        Route("/oauth/authorize", page_route(authorize), methods=["GET", "POST"]),
        Route("/oauth/request_token", request_token, methods=["POST"]),
        Route("/oauth/access_token", access_token, methods=["POST"]),
    ]
