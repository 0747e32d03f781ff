"""`engagement-api client totals|28hr|historical|watch`: the client from the command line.

This module imports only click and the standard library at load time, so that the main
command line can register it whether or not the client's extra is installed; the extra is
needed (and asked for by name) when a subcommand runs.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import click

from . import config
from .api import ENDPOINTS, X_HOST
from .export import FORMATS, format_table

EXTRA_HINT = "pip install 'engagement-api[client]'"
DEFAULT_TYPES = {
    "totals": "favorites,retweets,quote_tweets,replies,video_views",
    "28hr": "impressions,engagements",
    "historical": "impressions,engagements",
}
STATUS_LINK = "https://x.com/i/web/status/{}"


def _library() -> Any:
    """The client library, or a clear word on how to install it."""
    try:
        from . import errors, sync
    except ImportError as error:  # httpx (the client's extra) is missing
        raise click.ClickException(
            f"the client needs its extra ({error.name} is not installed): {EXTRA_HINT}"
        ) from None
    return sync, errors


def _credential_options(command: Callable) -> Callable:
    options = [
        click.option(
            "--base-url",
            help=f"The API's base URL (default {X_HOST}; env {config.ENV['base_url']}).",
        ),
        click.option("--consumer-key", help=f"env {config.ENV['consumer_key']}"),
        click.option("--consumer-secret", help=f"env {config.ENV['consumer_secret']}"),
        click.option("--access-token", help=f"User context (env {config.ENV['access_token']})."),
        click.option("--access-token-secret", help=f"env {config.ENV['access_token_secret']}"),
        click.option("--bearer-token", help=f"App-only (env {config.ENV['bearer_token']})."),
        click.option("--profile", help="A profile of the profiles file (instead of the env)."),
        click.option(
            "--profiles-file",
            type=click.Path(dir_okay=False),
            help=f"TOML file of profiles (default $ {config.PROFILES_ENV} or "
            "~/.config/engagement-api/profiles.toml).",
        ),
        click.option(
            "--concurrency",
            default=8,
            show_default=True,
            type=click.IntRange(1, 64),
            help="Requests in flight at once.",
        ),
        click.option(
            "--max-retries",
            default=10,
            show_default=True,
            type=click.IntRange(0),
            help="Retries of one request (429, 500, 502, 503, connection errors).",
        ),
        click.option(
            "--retry-budget",
            type=click.IntRange(0),
            help="Retries of the whole run (default: 10 plus one per request).",
        ),
        click.option("--no-wait", is_flag=True, help="Fail instead of waiting for the allowance."),
        click.option(
            "--max-wait",
            type=click.FloatRange(0),
            help="Never pause longer than this many seconds at once (a longer Retry-After is "
            "cut short, then retried).",
        ),
        click.option(
            "--timeout",
            default=60.0,
            show_default=True,
            type=click.FloatRange(0.1),
            help="Seconds to wait for an answer.",
        ),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar, no summary."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _ids_options(command: Callable) -> Callable:
    command = click.option(
        "--ids-file", type=click.File("r"), help="Post ids, one per line ('-': stdin)."
    )(command)
    return click.argument("ids", nargs=-1)(command)


def _make_client(options: dict[str, Any], **extra: Any) -> Any:
    sync, _ = _library()
    from .pacing import RetryPolicy

    flags = {name: options.pop(name) for name in config.ENV}
    try:
        found = config.resolve(flags, options.pop("profile"), options.pop("profiles_file"))
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if not (found.bearer_token or (found.consumer_key and found.consumer_secret)):
        raise click.ClickException(
            "no credentials: give --consumer-key and --consumer-secret (with --access-token and "
            "--access-token-secret for user context) or --bearer-token, set "
            f"{config.ENV['consumer_key']} and the others, or use --profile"
        )
    retry = RetryPolicy(max_retries=options.pop("max_retries"), budget=options.pop("retry_budget"))
    try:
        return sync.EngagementClient(
            **found.client_kwargs(),
            concurrency=options.pop("concurrency"),
            retry=retry,
            wait=not options.pop("no_wait"),
            max_wait=options.pop("max_wait"),
            timeout=options.pop("timeout"),
            **extra,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None


def _read_ids(ids: tuple[str, ...], ids_file) -> list[str]:
    from .ids import read_ids

    try:
        found = read_ids(list(ids))
        if ids_file is not None:
            found = list(dict.fromkeys(found + read_ids(ids_file)))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="IDS / --ids-file") from None
    if not found:
        raise click.UsageError("give post ids as arguments or with --ids-file")
    return found


@click.group("client")
def client() -> None:
    """Metrics of any number of posts from an Engagement API: this server or X's.

    Credentials come from the flags, else from --profile, else from the environment
    (ENGAGEMENT_API_BASE_URL, _CONSUMER_KEY, _CONSUMER_SECRET, _ACCESS_TOKEN,
    _ACCESS_TOKEN_SECRET, _BEARER_TOKEN).
    """


def _fetch_command(endpoint: str) -> click.Command:
    spec = ENDPOINTS[endpoint]

    @_ids_options
    @click.option(
        "--types",
        default=DEFAULT_TYPES[endpoint],
        show_default=True,
        help=f"Metrics, comma-separated ({', '.join(spec.metrics)}).",
    )
    @click.option(
        "--group-by",
        default="tweet.id,engagement.type",
        show_default=True,
        help=f"Levels of the rows, comma-separated ({', '.join(spec.group_by)}).",
    )
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Rows: tweet_id, metric, day, hour, count.",
    )
    @click.option("--out", type=click.Path(dir_okay=False), help="Write the rows here.")
    @click.option("--top", type=click.IntRange(1), help="Also report the top N posts per metric.")
    @click.option("--raw", type=click.Path(dir_okay=False), help="Keep every answer (JSON Lines).")
    @click.option(
        "--drop-forbidden",
        is_flag=True,
        help="Leave out other users' posts (a 403) and ask for the rest.",
    )
    @_credential_options
    def command(
        ids, ids_file, types, group_by, fmt, out, top, raw, drop_forbidden, quiet, **options
    ) -> None:
        start, end = options.pop("start", None), options.pop("end", None)
        if fmt == "parquet" and not out:
            raise click.UsageError("--format parquet needs --out FILE")
        asked = _read_ids(ids, ids_file)
        levels = [v.strip() for v in group_by.split(",") if v.strip()]
        metrics = [t.strip() for t in types.split(",") if t.strip()]
        if top and not {"tweet.id", "engagement.type"} <= {v.lower() for v in levels}:
            raise click.UsageError("--top needs --group-by with tweet.id and engagement.type")
        _, errors = _library()
        session = _make_client(options, drop_forbidden=drop_forbidden)
        started = time.perf_counter()
        with ExitStack() as stack:
            stack.callback(session.close)
            raw_file = stack.enter_context(open(raw, "w", encoding="utf-8")) if raw else None
            bar = stack.enter_context(_progress(len(asked), endpoint, quiet))
            window = {"start": start, "end": end} if spec.takes_window else {}
            method = {
                "totals": session.totals,
                "28hr": session.hours28,
                "historical": session.historical,
            }[endpoint]
            try:
                result = method(
                    asked,
                    metrics,
                    groupings={"rows": levels},
                    **window,
                    raw=raw_file,
                    on_progress=bar,
                )
            except ValueError as error:
                raise click.UsageError(str(error)) from None
            except errors.ClientError as error:
                bar.finish()
                if error.partial is not None and not quiet:
                    _summary(error.partial, time.perf_counter() - started)
                raise click.ClickException(str(error)) from None
        _write_rows(result, fmt, out, top)
        if top:
            click.echo(_top_report(result, top), nl=False)
        if not quiet:
            _summary(result, time.perf_counter() - started)

    if spec.takes_window:
        command = click.option("--end", help="End (YYYY-MM-DD or ISO 8601; any length of range).")(
            command
        )
        command = click.option("--start", help="Start (YYYY-MM-DD or ISO 8601, from 2014-09-01).")(
            command
        )
    helps = {
        "totals": "All-time totals of any number of posts (250 per request).",
        "28hr": "The last 28 hours of any number of your posts (25 per request).",
        "historical": "Any range of your posts' metrics, split into windows of 28 days.",
    }
    return click.command(endpoint, help=helps[endpoint])(command)


for _name in ENDPOINTS:
    client.add_command(_fetch_command(_name))


@client.command("watch")
@_ids_options
@click.option("--metric", default="favorites", show_default=True, help="A /totals metric.")
@click.option("--threshold", required=True, type=click.IntRange(1), help="The count to reach.")
@click.option(
    "--every",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds between polls.",
)
@click.option("--max-polls", type=click.IntRange(1), help="Stop after this many polls.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True
)
@_credential_options
def watch(ids, ids_file, metric, threshold, every, max_polls, fmt, quiet, **options) -> None:
    """Poll /totals and print each post the first time its METRIC reaches THRESHOLD
    (003: "every time one of my Posts reaches 100 Likes")."""
    asked = _read_ids(ids, ids_file)
    _, errors = _library()
    session = _make_client(options)
    reached = 0
    try:
        for tweet_id, count in session.watch(asked, metric, threshold, every, max_polls=max_polls):
            reached += 1
            if fmt == "jsonl":
                line = json.dumps({"tweet_id": tweet_id, "metric": metric, "count": count})
            else:
                line = f"{tweet_id}  {metric}  {count}"
            click.echo(line)
            sys.stdout.flush()
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    except errors.ClientError as error:
        raise click.ClickException(str(error)) from None
    finally:
        session.close()
    if not quiet:
        click.echo(f"{reached:,} of {len(asked):,} posts reached {threshold:,} {metric}", err=True)


class _progress:
    """A progress bar on a terminal's stderr (nothing elsewhere), fed by the client."""

    def __init__(self, total: int, label: str, quiet: bool) -> None:
        self._hidden = quiet or not sys.stderr.isatty()
        self._bar = click.progressbar(
            length=total,
            label=label,
            file=sys.stderr,
            hidden=self._hidden,
            item_show_func=lambda text: text,
            show_pos=True,
            show_percent=True,
        )
        self._done = 0

    def __enter__(self) -> _progress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def __call__(self, progress) -> None:
        note = f"{progress.requests} requests, {progress.retries} retries, {progress.waits} waits"
        self._bar.update(progress.ids_done - self._done, note)
        self._done = progress.ids_done

    def finish(self) -> None:
        if self._bar.entered:
            self._bar.__exit__(None, None, None)


def _write_rows(result, fmt: str, out: str | None, top: int | None) -> None:
    if top and not out:
        return  # the top posts are the output
    if fmt == "parquet":
        result.to_parquet(out)
        return
    if fmt == "table":
        text = format_table(result.columns(), result.tuples())
        if out:
            with open(out, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            click.echo(text, nl=False)
        return
    writer = result.to_csv if fmt == "csv" else result.to_jsonl
    if out:
        writer(out)
    else:
        writer(sys.stdout)


def _top_report(result, n: int) -> str:
    """Totals per metric and the top N posts of each (what the Ruby sample client reports)."""
    from .top import TopPosts

    per_post = result.per_post()

    tracker = TopPosts(n, result.types)
    tracker.add(per_post)
    lines = [
        f"Engagement API results: {len(result.ids):,} posts asked, {result.answered:,} answered",
        "",
    ]
    lines.append(format_table(("metric", "count"), tracker.totals.items()).rstrip("\n"))
    for metric in result.types:
        lines += ["", f"Top posts by {metric}:"]
        ranked = [
            (rank, tid, count, STATUS_LINK.format(tid))
            for rank, (tid, count) in enumerate(tracker.top(metric), 1)
        ]
        table = format_table(("rank", "tweet_id", "count", "link"), ranked)
        lines.append(table.rstrip("\n") if ranked else "(no post has any)")
    return "\n".join(lines) + "\n"


def _summary(result, seconds: float) -> None:
    s, stats = result.summary(), result.stats
    lines = [
        f"/{result.endpoint}: {_count(s['ids'], 'id')} asked, {s['answered']:,} answered, "
        f"{s['unavailable']:,} unavailable, {s['protected']:,} protected, "
        f"{s['forbidden']:,} forbidden",
        f"  unsupported: {s['unsupported_impressions_engagements']:,} for impressions & "
        f"engagements, {s['unsupported_video_views']:,} for video views",
        f"  {_count(stats.requests, 'request')}, {_count(stats.retries, 'retry', 'retries')}, "
        f"{_count(stats.waits, 'wait')} ({stats.waited:.1f} s waited) in {seconds:.2f} s",
    ]
    lines += [f"  error: {text}" for text in result.errors]
    if {"engagements", "impressions"} <= set(result.types):
        try:
            rate = result.overall_engagement_rate()
        except ValueError:  # no grouping by post and metric
            rate = None
        if rate is not None:
            lines.append(f"  engagement rate: {rate:.2%} (engagements / impressions)")
    click.echo("\n".join(lines), err=True)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"
