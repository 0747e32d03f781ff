"""The `engagement-api` command line: serve, ingest, apps, tokens, demo, oauth-header."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from .clock import Clock, clock_from
from .server import limits
from .store import (
    DEFAULT_MAX_LAG,
    MAX_LAG_ENV,
    READ_STORES_ENV,
    SchemaError,
    Store,
    default_store_url,
    open_store,
)
from .times import format_instant, parse_instant

STORE_ENV = "ENGAGEMENT_API_STORE"
NOW_ENV = "ENGAGEMENT_API_NOW"
KEY_FILE_ENV = "ENGAGEMENT_API_KEY_FILE"  # also store.secrets.KEY_FILE_ENV
REDIS_ENV = "ENGAGEMENT_API_REDIS"  # also contract.REDIS_ENV


class Context:
    def __init__(
        self,
        store_url: str,
        now: float | None,
        key_file: str | None = None,
        redis_url: str | None = None,
        read_stores: tuple[str, ...] = (),
        max_replica_lag: float = DEFAULT_MAX_LAG,
    ) -> None:
        self.store_url = store_url
        self.now = now
        self.key_file = key_file
        self.redis_url = redis_url
        self.read_stores = read_stores
        self.max_replica_lag = max_replica_lag
        self._store: Store | None = None

    def read_router(self, watch: bool = True):
        """The read replicas' router, or None without --read-store."""
        if not self.read_stores:
            return None
        from .store.replicas import ReadRouter

        try:
            return ReadRouter(self.store(), self.read_stores, self.max_replica_lag, watch=watch)
        except (SchemaError, ValueError) as error:
            raise click.ClickException(str(error)) from None

    @property
    def clock(self) -> Clock:
        return clock_from(self.now)

    def store(self) -> Store:
        if self._store is None:
            from .store.secrets import SecretBox, SecretsKeyError

            try:
                self._store = open_store(self.store_url, SecretBox.from_file(self.key_file))
            except (SchemaError, SecretsKeyError, ValueError, OSError) as error:
                raise click.ClickException(str(error)) from None
        return self._store


def _parse_now(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return parse_instant(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date-time with a zone (e.g. 2026-11-20T12:30:00Z)"
        ) from None


def _emit(document: dict) -> None:
    click.echo(json.dumps(document))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    "store_url",
    envvar=STORE_ENV,
    default=default_store_url,
    show_default="~/.local/share/engagement-api/engagement.db",
    help=f"Store URL, e.g. sqlite:///engagement.db (env {STORE_ENV}).",
)
@click.option(
    "--now",
    envvar=NOW_ENV,
    callback=_parse_now,
    expose_value=True,
    help=f"Freeze the data clock at this ISO 8601 instant (env {NOW_ENV}).",
)
@click.option(
    "--key-file",
    envvar=KEY_FILE_ENV,
    help=f"The key file of the stored secrets (env {KEY_FILE_ENV}; default "
    "~/.config/engagement-api/secrets.key, created on first use).",
)
@click.option(
    "--redis",
    "redis_url",
    envvar=REDIS_ENV,
    help=f"Keep per-minute allowances and OAuth nonces in this Redis, shared by every host "
    f"serving the store (env {REDIS_ENV}); without it they are shared by this host's "
    "processes only.",
)
@click.option(
    "--read-store",
    "read_stores",
    multiple=True,
    help="A PostgreSQL streaming replica of --store that serves the engagement reads "
    f"(repeatable; env {READ_STORES_ENV}, comma-separated).",
)
@click.option(
    "--max-replica-lag",
    type=click.FloatRange(0),
    default=DEFAULT_MAX_LAG,
    show_default=True,
    envvar=MAX_LAG_ENV,
    help=f"Seconds of replay lag past which a read store is left out (env {MAX_LAG_ENV}).",
)
@click.version_option(package_name="engagement-api")
@click.pass_context
def main(
    ctx: click.Context,
    store_url: str,
    now: float | None,
    key_file: str | None,
    redis_url: str | None,
    read_stores: tuple[str, ...],
    max_replica_lag: float,
) -> None:
    """An open, self-hostable Engagement API: serve it, feed it, manage its credentials."""
    if key_file:
        os.environ[KEY_FILE_ENV] = key_file  # worker processes of serve read it too
    if redis_url:
        os.environ[REDIS_ENV] = redis_url
    if not read_stores:
        found = os.environ.get(READ_STORES_ENV, "")
        read_stores = tuple(url.strip() for url in found.split(",") if url.strip())
    os.environ[READ_STORES_ENV] = ",".join(read_stores)
    os.environ[MAX_LAG_ENV] = str(max_replica_lag)
    ctx.obj = Context(store_url, now, key_file, redis_url, read_stores, max_replica_lag)
    ctx.call_on_close(lambda: ctx.obj._store and ctx.obj._store.close())


# -- serve --------------------------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes."
)
@click.option("--demo", is_flag=True, help="Seed demo data and print ready-to-use credentials.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option(
    "--header-timeout",
    default=limits.HEADER_TIMEOUT,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a client has to send a request's headers.",
)
@click.option(
    "--body-timeout",
    default=limits.BODY_IDLE_TIMEOUT,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a request body may pause between chunks.",
)
@click.option(
    "--keep-alive",
    default=limits.KEEP_ALIVE_TIMEOUT,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds an idle keep-alive connection stays open.",
)
@click.option(
    "--max-connections",
    default=limits.MAX_CONNECTIONS,
    show_default=True,
    type=click.IntRange(1),
    help="Open connections per worker; more are answered 503 and closed.",
)
@click.option(
    "--control",
    is_flag=True,
    envvar="ENGAGEMENT_API_CONTROL",
    help="Serve the integrator's toolkit under /_control/ (faults, clock, journal, reset), "
    "for an admin token (env ENGAGEMENT_API_CONTROL=1).",
)
@click.option(
    "--fault",
    "fault_options",
    multiple=True,
    metavar="STATUS:PROBABILITY",
    help="Answer that share of Engagement API requests with STATUS (429, 500, 502, 503) for "
    "the whole run, e.g. 503:0.2 (repeatable).",
)
@click.pass_obj
def serve(
    obj: Context,
    host: str,
    port: int,
    workers: int,
    demo: bool,
    log_level: str,
    header_timeout: float,
    body_timeout: float,
    keep_alive: float,
    max_connections: int,
    control: bool,
    fault_options: tuple[str, ...],
) -> None:
    """Serve the Engagement API over HTTP."""
    import uvicorn

    from .control import parse_fault_option
    from .errors import ApiError
    from .server import protocol

    try:
        faults = tuple(parse_fault_option(option) for option in fault_options)
    except ApiError as error:
        raise click.BadParameter(error.messages[0], param_hint="--fault") from None

    protocol.configure(
        header_timeout=header_timeout,
        body_idle_timeout=body_timeout,
        max_connections=max_connections,
    )

    store = obj.store()
    if demo:
        _seed_and_describe(obj, store, f"http://{host}:{port}")
    click.echo(
        f"Serving the Engagement API on http://{host}:{port} (store {store.url}"
        + (f", now frozen at {format_instant(obj.now)}" if obj.now is not None else "")
        + ")",
        err=True,
    )
    os.environ[STORE_ENV] = obj.store_url
    if obj.now is not None:
        os.environ[NOW_ENV] = format_instant(obj.now)
    from .server.logs import log_config

    protocol.raise_open_files_limit()
    options = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "log_config": log_config(uvicorn.config.LOGGING_CONFIG),
        "server_header": False,
        "http": "engagement_api.server.protocol:GuardedProtocol",
        "timeout_keep_alive": keep_alive,
    }
    from .contract import open_contract

    toolkit = control or bool(faults)
    if workers == 1:
        from .server import create_app
        from .server.app import tune_gc

        contract = open_contract(obj.store_url, obj.redis_url)
        app = create_app(
            store,
            obj.clock,
            contract=contract,
            control_api=control,
            faults=faults if toolkit else None,
            read_router=obj.read_router(),
        )
        tune_gc()
        uvicorn.run(app, **options)
    else:
        from .clock import SystemClock
        from .control import Control
        from .server.app import CONTROL_ENV, FAULTS_ENV

        if toolkit:  # once, for every worker: an earlier run's settings are gone
            Control(open_contract(obj.store_url, obj.redis_url), obj.clock, SystemClock()).start(
                list(faults)
            )
            os.environ[FAULTS_ENV] = "1"
        if control:
            os.environ[CONTROL_ENV] = "1"
        store.close()
        obj._store = None
        uvicorn.run(
            "engagement_api.server.app:app_from_env", factory=True, workers=workers, **options
        )


# -- ingest -------------------------------------------------------------------------------
@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_obj
def ingest(obj: Context, files: tuple[str, ...], quiet: bool) -> None:
    """Ingest NDJSON/JSONL, CSV or Parquet files of post and engagement records ('-': stdin).

    Bad records are reported on stderr as 'FILE: line N: reason' and skipped; the rest is
    applied. Exits 1 if any record was rejected or a file could not be read.
    """
    from .ingest import ingest_source

    store = obj.store()
    failed = False
    for source in files:
        if source != "-" and not Path(source).is_file():
            click.echo(f"{source}: no such file", err=True)
            failed = True
            continue

        def reject(line: int, reason: str, source: str = source) -> None:
            click.echo(f"{source}: line {line}: {reason}", err=True)

        show_bar = not quiet and source != "-" and sys.stderr.isatty()
        size = Path(source).stat().st_size if source != "-" else 0
        started = time.perf_counter()
        try:
            with click.progressbar(
                length=size, label=source, file=sys.stderr, hidden=not show_bar
            ) as bar:
                last = [0]

                def progress(position: int, bar=bar, last=last) -> None:
                    bar.update(max(position - last[0], 0))
                    last[0] = max(position, last[0])

                summary = ingest_source(store, source, obj.clock, reject, progress)
        except Exception as error:  # unreadable file: corrupt Parquet, bad gzip, ...
            click.echo(f"{source}: cannot read: {error}", err=True)
            failed = True
            continue
        seconds = time.perf_counter() - started
        failed |= summary.rejected > 0
        click.echo(
            f"{source}: {_count(summary.records, 'record')} read: "
            f"{_count(summary.posts, 'post')}, {_count(summary.events, 'event')}, "
            f"{summary.rejected:,} rejected, {summary.already_ingested:,} already ingested "
            f"({seconds:.2f} s)"
        )
    sys.exit(1 if failed else 0)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


# -- apps and tokens ------------------------------------------------------------------------
@main.group()
def apps() -> None:
    """Developer apps: consumer credentials and Engagement API approval."""


def _app_json(app) -> dict:
    return {
        "app_id": str(app.id),
        "name": app.name,
        "consumer_key": app.consumer_key,
        "consumer_secret": app.consumer_secret,
        "approved": app.approved,
        "rate_limit": app.rate_limit,
        "handle_limit": app.handle_limit,
        "callback_urls": list(app.callback_urls),
    }


class _HandleLimit(click.ParamType):
    """A number of unique @handles per month, or `none` for no limit."""

    name = "N|none"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value is None:
            return value
        if value.strip().lower() in ("none", "unlimited"):
            return None
        try:
            number = int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number nor 'none'", param, ctx)
        if number < 0:
            self.fail("a handle limit cannot be negative", param, ctx)
        return number


@apps.command("create")
@click.option("--name", required=True)
@click.option("--unapproved", is_flag=True, help="Not yet approved for the Engagement API.")
@click.option(
    "--rate-limit",
    default=6000,
    show_default=True,
    type=click.IntRange(1),
    help="Requests per minute (x-per-minute-limit).",
)
@click.option(
    "--handle-limit",
    type=_HandleLimit(),
    default=None,
    help="Unique @handles per billing month in the contract (default: none).",
)
@click.pass_obj
def apps_create(
    obj: Context, name: str, unapproved: bool, rate_limit: int, handle_limit: int | None
) -> None:
    """Create an app; prints its app_id, consumer_key and consumer_secret as JSON."""
    from .auth import credentials

    app = obj.store().create_app(
        name,
        credentials.consumer_key(),
        credentials.consumer_secret(),
        not unapproved,
        rate_limit,
        handle_limit,
    )
    _emit(_app_json(app))


@apps.command("set")
@click.argument("app_id", type=int)
@click.option("--rate-limit", type=click.IntRange(1), help="Requests per minute.")
@click.option("--handle-limit", type=_HandleLimit(), help="Unique @handles per month, or none.")
@click.option(
    "--callback-url",
    "callback_urls",
    multiple=True,
    help="A callback URL of the 3-legged flow (repeatable; replaces the app's list).",
)
@click.option("--clear-callback-urls", is_flag=True, help="Remove every callback URL.")
@click.pass_context
def apps_set(
    ctx: click.Context,
    app_id: int,
    rate_limit: int | None,
    handle_limit: int | None,
    callback_urls: tuple[str, ...],
    clear_callback_urls: bool,
) -> None:
    """Change an app's contract (its per-minute allowance and @handle limit) or its callback
    URLs."""
    from .auth.three_legged import checked_callback_urls
    from .errors import ApiError
    from .store.accounts import UNCHANGED

    given = ctx.get_parameter_source("handle_limit") == click.core.ParameterSource.COMMANDLINE
    if rate_limit is None and not given and not callback_urls and not clear_callback_urls:
        raise click.UsageError(
            "give --rate-limit, --handle-limit, --callback-url or --clear-callback-urls"
        )
    if callback_urls and clear_callback_urls:
        raise click.UsageError("give --callback-url or --clear-callback-urls, not both")
    try:
        urls = checked_callback_urls(list(callback_urls))
    except ApiError as error:
        raise click.BadParameter(error.messages[0], param_hint="--callback-url") from None
    store = ctx.obj.store()
    if store.get_app(app_id) is None:
        raise click.ClickException(f"no app with id {app_id}")
    if rate_limit is not None or given:
        store.set_app_contract(app_id, rate_limit, handle_limit if given else UNCHANGED)
    if urls or clear_callback_urls:
        store.set_callback_urls(app_id, urls)
    _emit(_app_json(store.get_app(app_id)))


def _set_approval(obj: Context, app_id: int, approved: bool) -> None:
    store = obj.store()
    if not store.set_app_approved(app_id, approved):
        raise click.ClickException(f"no app with id {app_id}")
    _emit(_app_json(store.get_app(app_id)))


@apps.command("approve")
@click.argument("app_id", type=int)
@click.pass_obj
def apps_approve(obj: Context, app_id: int) -> None:
    """Approve an app for the Engagement API."""
    _set_approval(obj, app_id, True)


@apps.command("unapprove")
@click.argument("app_id", type=int)
@click.pass_obj
def apps_unapprove(obj: Context, app_id: int) -> None:
    """Withdraw an app's Engagement API approval."""
    _set_approval(obj, app_id, False)


@apps.command("list")
@click.pass_obj
def apps_list(obj: Context) -> None:
    """Every app, one JSON object per line."""
    for app in obj.store().list_apps():
        _emit(_app_json(app))


@main.command()
@click.option("--app", "app_id", type=int, help="One app (default: every app).")
@click.option("--month", help="YYYY-MM (UTC; default: the data clock's month).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per app.")
@click.pass_obj
def usage(obj: Context, app_id: int | None, month: str | None, as_json: bool) -> None:
    """Unique @handles each app queried in a billing month, beside its contracted limit."""
    from .engagement.usage import billing_month, parse_month, usage_document
    from .errors import ApiError

    try:
        month = parse_month(month) if month else billing_month(obj.clock.now())
    except ApiError as error:
        raise click.BadParameter(error.messages[0], param_hint="--month") from None
    store = obj.store()
    apps_ = store.list_apps() if app_id is None else [store.get_app(app_id)]
    if apps_ == [None]:
        raise click.ClickException(f"no app with id {app_id}")
    used = store.handle_usage(month, app_id)
    documents = [usage_document(app, month, used.get(app.id, [])) for app in apps_]
    if as_json:
        for document in documents:
            _emit(document)
        return
    rows = [
        [d["app_id"], d["app_name"], d["month"],
         "none" if d["handle_limit"] is None else str(d["handle_limit"]),
         str(d["unique_handles"]), str(d["overage"]), ", ".join("@" + h for h in d["handles"])]
        for d in documents
    ]  # fmt: skip
    header = ["app", "name", "month", "limit", "handles", "overage", "who"]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    for line in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


@main.group()
def tokens() -> None:
    """User access tokens (OAuth 1.0a user context)."""


@tokens.command("create")
@click.option("--app", "app_id", required=True, type=int, help="The app's id.")
@click.option("--handle", required=True, help="The user's @handle.")
@click.option("--user-id", type=int, help="Create the user with this id if the handle is new.")
@click.pass_obj
def tokens_create(obj: Context, app_id: int, handle: str, user_id: int | None) -> None:
    """Issue an access token and secret for a user of an app; prints them as JSON."""
    from .auth import credentials
    from .store import AccessToken, User

    store = obj.store()
    if store.get_app(app_id) is None:
        raise click.ClickException(f"no app with id {app_id}")
    user = store.find_user(handle)
    if user is None:
        if user_id is None:
            raise click.ClickException(
                f"no user @{handle.removeprefix('@')}: ingest their posts first, "
                "or give --user-id to create the user"
            )
        user = User(user_id, handle.removeprefix("@"))
        store.upsert_user(user)
    token = AccessToken(
        credentials.access_token(user.id), credentials.access_token_secret(), app_id, user.id
    )
    store.create_access_token(token)
    _emit(
        {
            "access_token": token.token,
            "access_token_secret": token.secret,
            "user_id": str(user.id),
            "screen_name": user.handle,
        }
    )


@main.command()
@click.option("--posts", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--events", default=100_000, show_default=True, type=click.IntRange(0))
@click.option("--out", required=True, help="FILE.parquet or FILE.ndjson")
@click.option("--seed", default=1, show_default=True, type=int)
@click.pass_obj
def simulate(obj: Context, posts: int, events: int, out: str, seed: int) -> None:
    """Write realistic synthetic posts and engagement events (seeded, reproducible)."""
    from .simulate import write_synthetic

    started = time.perf_counter()
    written = write_synthetic(out, posts, events, obj.clock.now(), seed)
    click.echo(
        f"{out}: {written:,} records ({posts:,} posts, {events:,} events) "
        f"in {time.perf_counter() - started:.1f} s"
    )


@main.group()
def users() -> None:
    """People who sign in to the portal: passwords and operators."""


def _person(store: Store, handle: str):
    found = store.person(handle)
    if found is None:
        raise click.ClickException(
            f"no user @{handle.removeprefix('@')}: ingest their posts first, "
            "or give --user-id to create the user"
        )
    return found


def _read_new_password() -> str:
    """The new password: asked twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return click.prompt(
            "New password", hide_input=True, confirmation_prompt="Repeat the new password"
        )
    line = sys.stdin.readline()
    if not line:
        raise click.ClickException("no password on stdin")
    return line.removesuffix("\n").removesuffix("\r")


@users.command("set-password")
@click.argument("handle")
@click.option("--user-id", type=int, help="Create the user with this id if the handle is new.")
@click.pass_obj
def users_set_password(obj: Context, handle: str, user_id: int | None) -> None:
    """Set the password a user signs in with (read from stdin, asked twice on a terminal).
    Their open sessions end."""
    from .auth import passwords
    from .store import User

    store = obj.store()
    if store.person(handle) is None and user_id is not None:
        store.upsert_user(User(user_id, handle.removeprefix("@")))
    person = _person(store, handle)
    try:
        hashed = passwords.hash_password(_read_new_password())
    except passwords.WeakPassword as error:
        raise click.ClickException(str(error)) from None
    store.set_password_hash(person.user.id, hashed)
    _emit({"user_id": str(person.user.id), "screen_name": person.user.handle, "password": "set"})


def _set_operator(obj: Context, handle: str, is_admin: bool) -> None:
    store = obj.store()
    person = _person(store, handle)
    store.set_admin(person.user.id, is_admin)
    _emit({"user_id": str(person.user.id), "screen_name": person.user.handle, "admin": is_admin})


@users.command("grant-admin")
@click.argument("handle")
@click.pass_obj
def users_grant_admin(obj: Context, handle: str) -> None:
    """Make a user an operator: they approve apps and set contracts in the portal."""
    _set_operator(obj, handle, True)


@users.command("revoke-admin")
@click.argument("handle")
@click.pass_obj
def users_revoke_admin(obj: Context, handle: str) -> None:
    """Make an operator a plain user again."""
    _set_operator(obj, handle, False)


@main.group("admin-token")
def admin_token() -> None:
    """Tokens for the live ingest endpoint, POST /admin/ingest."""


@admin_token.command("create")
@click.pass_obj
def admin_token_create(obj: Context) -> None:
    """Issue an admin token; prints it once as JSON (only its hash is kept)."""
    from .auth import credentials

    token = credentials.admin_token()
    obj.store().add_admin_token(credentials.token_hash(token), int(time.time()))
    _emit({"admin_token": token})


# -- schema ------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """The store's schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Context) -> None:
    """Create the store or bring its schema to this version's (idempotent)."""
    from .store.migrations import latest

    store = obj.store()  # opening applies any missing migration, under a lock
    engine = "postgresql" if store.url.startswith("postgres") else "sqlite"
    click.echo(
        f"{store.url}: schema version {store.schema_version()} "
        f"(this engagement-api: {latest(engine)})"
    )


@db.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.pass_obj
def db_status(obj: Context, as_json: bool) -> None:
    """The primary store and each read store: its replay lag, and whether reads would use it
    (exits 1 when a read store is unusable)."""
    store = obj.store()
    primary = {
        "url": _shown_url(store.url),
        "schema_version": store.schema_version(),
        "data_version": store.versions()[0],
    }
    router = obj.read_router(watch=False)
    replicas = []
    if router is not None:
        for status in router.check():
            replicas.append(
                {
                    "url": _shown_url(status.url),
                    "reachable": status.reachable,
                    "lag_seconds": None if status.lag is None else round(status.lag, 3),
                    "behind_bytes": status.behind_bytes,
                    "in_use": status.usable(obj.max_replica_lag),
                    "error": status.error,
                }
            )
        router.close()
    if as_json:
        _emit({"primary": primary, "read_stores": replicas, "max_replica_lag": obj.max_replica_lag})
    else:
        click.echo(
            f"primary     {primary['url']}  schema {primary['schema_version']}, "
            f"data version {primary['data_version']}"
        )
        for replica in replicas:
            if not replica["reachable"] or replica["error"]:
                state = f"left out: {replica['error'] or 'unreachable'}"
            elif replica["in_use"]:
                state = "in use"
            else:
                state = f"left out: lag above {obj.max_replica_lag:g} s"
            lag = replica["lag_seconds"]
            shown = "lag unknown" if lag is None else f"lag {lag:g} s"
            click.echo(f"read store  {replica['url']}  {shown}  {state}")
        if not replicas:
            click.echo("no read store (--read-store): the primary answers every read")
    if any(not replica["in_use"] for replica in replicas):
        sys.exit(1)


def _shown_url(url: str) -> str:
    """A store URL with its password, if any, hidden."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@db.command("rotate-key")
@click.pass_obj
def db_rotate_key(obj: Context) -> None:
    """Encrypt every stored secret with a new key, in one transaction; the key file then holds
    the new key only (copy it to every host that serves this store)."""
    from cryptography.fernet import Fernet

    from .store.secrets import SecretBox, write_keys

    store = obj.store()
    old = store.secrets
    new = SecretBox([Fernet.generate_key(), *old.keys], old.path)
    write_keys(old.path, new.keys)  # both keys until every secret is rewritten
    count = store.rotate_secrets(new)
    write_keys(old.path, new.keys[:1])
    _emit({"key_file": str(old.path), "secrets": count})


# -- demo and helpers -----------------------------------------------------------------------
def _seed_and_describe(obj: Context, store: Store, base_url: str) -> None:
    from . import demo

    now = obj.clock.now()
    summary = demo.seed(store, now)
    if summary is None:
        click.echo("Demo data already in the store.", err=True)
    else:
        click.echo(
            f"Seeded demo data: {summary.posts:,} posts, {summary.events:,} events "
            f"(now {format_instant(now)}).",
            err=True,
        )
    creds = demo.demo_credentials(store, time.time())
    click.echo(demo.describe(creds, base_url))
    sys.stdout.flush()


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Host for the examples.")
@click.option("--port", default=8080, show_default=True, type=int)
@click.pass_obj
def demo_command(obj: Context, host: str, port: int) -> None:
    """Seed the store with demo data and print credentials and curl examples."""
    _seed_and_describe(obj, obj.store(), f"http://{host}:{port}")


@main.command("oauth-header")
@click.option("--method", default="POST", show_default=True)
@click.option("--url", required=True, help="The full request URL.")
@click.option("--consumer-key", required=True)
@click.option("--consumer-secret", required=True)
@click.option("--token", default="", help="User access token (omit for app-only).")
@click.option("--token-secret", default="")
def oauth_header(
    method: str, url: str, consumer_key: str, consumer_secret: str, token: str, token_secret: str
) -> None:
    """Print a fresh OAuth 1.0a (HMAC-SHA1) Authorization header value, e.g. for curl."""
    from oauthlib.oauth1 import Client

    client = Client(
        consumer_key,
        client_secret=consumer_secret,
        resource_owner_key=token or None,
        resource_owner_secret=token_secret or None,
    )
    _, headers, _ = client.sign(url, http_method=method.upper())
    click.echo(headers["Authorization"])


# -- client (its own package; loads without its extra, which its commands ask for) -----------
from .client.cli import client as _client  # noqa: E402

main.add_command(_client)

if __name__ == "__main__":
    main()
