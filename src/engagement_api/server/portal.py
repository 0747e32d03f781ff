"""The developer portal (apps, "Keys and tokens", callback URLs, access requests), the
operator's page (access decisions, contracts) and the engagement dashboard, for signed-in
people. Secrets are shown once, in the answer to the request that made them, never in a URL.
"""

from __future__ import annotations

import time
from importlib.resources import files

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from .. import spec
from ..auth import credentials
from ..auth.three_legged import checked_callback_urls
from ..engagement.usage import billing_month, usage_document
from ..errors import ApiError
from ..portal import dashboard
from ..store import AccessToken, App
from ..store.people import Person
from ..times import format_instant
from .pages import Page, Pages, form, page_route, redirect

_STATIC = files("engagement_api.portal") / "static"
STYLESHEET = "portal.css"
DEFAULT_RATE_LIMIT = 6000  # requests per minute of a new app until an operator sets its contract


def portal_routes(pages: Pages) -> list[Route]:
    services, store = pages.services, pages.store
    not_found = Page(Response(status_code=404))

    def access_of(app: App) -> str:
        if app.approved:
            return "approved"
        found = store.access_request(app.id)
        states = {"pending": "requested", "refused": "refused"}
        return states.get(found.status if found else "", "not requested")

    def usage_of(app: App) -> dict:
        month = billing_month(services.clock.now())
        return usage_document(app, month, store.handle_usage(month, app.id).get(app.id, []))

    def own_app(person: Person, app_id: str) -> App:
        app = store.get_app(int(app_id)) if app_id.isdigit() else None
        if app is None or (app.owner_id != person.user.id and not person.is_admin):
            raise not_found
        return app

    def app_page(person: Person, csrf: str, app: App, status: int = 200, **shown: str):
        return pages.render(
            "app.html", status, title=app.name, person=person, csrf=csrf, app=app,
            access=access_of(app), usage=usage_of(app), shown=shown,
            has_token=store.has_access_token(app.id, person.user.id),
        )  # fmt: skip

    # -- the developer portal ----------------------------------------------------------------
    async def apps_home(request: Request) -> Response:
        person, csrf = pages.signed_in(request)
        rows = [
            {"app": app, "access": access_of(app), "handles": usage_of(app)["unique_handles"]}
            for app in store.apps_of(person.user.id)
        ]
        return pages.render("apps.html", title="Your apps", person=person, csrf=csrf, apps=rows)

    async def create_app(request: Request) -> Response:
        fields = form(request)
        person, csrf = pages.checked(request, fields)
        name = fields.get("name", "").strip()
        try:
            if not name or len(name) > 100:
                raise ApiError(400, "An app needs a name of 1 to 100 characters")
            urls = checked_callback_urls(fields.get("callback_urls", "").splitlines())
        except ApiError as error:
            raise Page(pages.refuse(400, "The app was not created", *error.messages,
                                    person=person, csrf=csrf)) from None  # fmt: skip
        secret, writer = credentials.consumer_secret(), services.writer
        app = await run_in_threadpool(
            writer.create_app, name, credentials.consumer_key(), secret, False,
            DEFAULT_RATE_LIMIT, None, person.user.id,
        )  # fmt: skip
        if urls:
            await run_in_threadpool(writer.set_callback_urls, app.id, urls)
        return app_page(person, csrf, store.get_app(app.id), 201, consumer_secret=secret)

    async def app_detail(request: Request) -> Response:
        person, csrf = pages.signed_in(request)
        return app_page(person, csrf, own_app(person, request.path_params["app_id"]))

    async def app_action(request: Request) -> Response:
        fields = form(request)
        person, csrf = pages.checked(request, fields)
        app = own_app(person, request.path_params["app_id"])
        action, writer = request.path_params["action"], services.writer
        if action == "keys":
            secret = credentials.consumer_secret()
            key = credentials.consumer_key()
            await run_in_threadpool(writer.regenerate_keys, app.id, key, secret)
            return app_page(person, csrf, store.get_app(app.id), consumer_secret=secret)
        if action == "token":
            user_id = person.user.id
            token = AccessToken(
                credentials.access_token(user_id), credentials.access_token_secret(), app.id,
                user_id,
            )  # fmt: skip
            await run_in_threadpool(writer.revoke_access_tokens, app.id, user_id)
            await run_in_threadpool(writer.create_access_token, token)
            return app_page(person, csrf, app, access_token=token.token,
                            access_token_secret=token.secret)  # fmt: skip
        if action == "callbacks":
            try:
                urls = checked_callback_urls(fields.get("callback_urls", "").splitlines())
            except ApiError as error:
                raise Page(pages.refuse(400, "The callback URLs were not saved", *error.messages,
                                        person=person, csrf=csrf)) from None  # fmt: skip
            await run_in_threadpool(writer.set_callback_urls, app.id, urls)
        elif action == "access":
            if not app.approved:
                await run_in_threadpool(writer.request_access, app.id, int(time.time()))
        else:
            raise not_found
        return redirect(f"/apps/{app.id}")

    # -- the operator ------------------------------------------------------------------------
    def owner_of(app: App) -> str:
        found = store.person_by_id(app.owner_id) if app.owner_id else None
        return f"@{found.user.handle}" if found else "–"

    async def admin_page(request: Request) -> Response:
        person, csrf = pages.operator(request)
        apps = {app.id: app for app in store.list_apps()}
        pending = [
            {"app": apps[r.app_id], "owner": owner_of(apps[r.app_id]),
             "requested": format_instant(r.requested_at)}
            for r in store.access_requests() if r.status == "pending" and r.app_id in apps
        ]  # fmt: skip
        rows = [{"app": app, "owner": owner_of(app)} for app in apps.values()]
        return pages.render("admin.html", title="Operator", person=person, csrf=csrf,
                            requests=pending, apps=rows)  # fmt: skip

    async def admin_action(request: Request) -> Response:
        fields = form(request)
        person, csrf = pages.operator(request, fields)
        app_id = request.path_params["app_id"]
        app = store.get_app(int(app_id)) if app_id.isdigit() else None
        if app is None:
            raise not_found
        writer, action = services.writer, request.path_params["action"]
        if action == "decision":
            approve = fields.get("decision") == "approve"
            await run_in_threadpool(writer.decide_access, app.id, approve, int(time.time()))
        elif action == "contract":
            rate, handles = fields.get("rate_limit", "").strip(), fields.get("handle_limit", "")
            handles = handles.strip()
            if not rate.isdigit() or int(rate) < 1 or (handles and not handles.isdigit()):
                raise Page(pages.refuse(
                    400, "The contract was not saved",
                    "Requests per minute: a whole number from 1. The @handle limit: a whole "
                    "number, or empty for none.", person=person, csrf=csrf,
                ))  # fmt: skip
            limit = int(handles) if handles else None
            await run_in_threadpool(writer.set_app_contract, app.id, int(rate), limit)
        else:
            raise not_found
        return redirect("/admin")

    # -- the dashboard -----------------------------------------------------------------------
    async def dashboard_page(request: Request) -> Response:
        person, csrf = pages.signed_in(request)
        params = request.query_params
        sort = params.get("sort", "impressions")
        days = params.get("days", "")
        post = params.get("post", "").strip()
        services.memory.refresh()
        board = dashboard.build(
            store, services.memory.reads, person.user.id, services.clock.now(),
            sort=sort if sort in dashboard.SORTABLE else "impressions",
            descending=params.get("order", "desc") != "asc",
            window_days=min(max(int(days), 1), 28) if days.isdigit() else 7,
            post=int(post) if post.isdigit() else None,
            set_a=post_ids(params.get("a", "")), set_b=post_ids(params.get("b", "")),
        )  # fmt: skip
        return pages.render(
            "dashboard.html", title="Your posts", person=person, csrf=csrf, board=board,
            columns=dashboard.COLUMNS, metrics=dashboard.TABLE_METRICS, post=post,
            set_a=params.get("a", ""), set_b=params.get("b", ""),
        )  # fmt: skip

    async def static(request: Request) -> Response:
        if request.path_params["name"] != STYLESHEET:
            return Response(status_code=404)
        response = FileResponse(str(_STATIC / STYLESHEET), media_type="text/css")
        response.headers["cache-control"] = f"public, max-age={spec.HOUR}"
        return response

    return [
        Route("/", page_route(apps_home), methods=["GET"]),
        Route("/apps", page_route(create_app), methods=["POST"]),
        Route("/apps/{app_id}", page_route(app_detail), methods=["GET"]),
        Route("/apps/{app_id}/{action}", page_route(app_action), methods=["POST"]),
        Route("/admin", page_route(admin_page), methods=["GET"]),
        Route("/admin/apps/{app_id}/{action}", page_route(admin_action), methods=["POST"]),
        Route("/dashboard", page_route(dashboard_page), methods=["GET"]),
        Route("/portal/static/{name}", static, methods=["GET"]),
    ]


def post_ids(text: str) -> list[int]:
    """Post ids typed in a form, separated by commas or spaces: as many as one /historical
    request takes are compared."""
    parts = text.replace(",", " ").split()
    return [int(part) for part in parts if part.isdigit() and len(part) < 20][
        : spec.HISTORICAL.max_ids
    ]
