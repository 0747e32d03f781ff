"""Run the corpus in-process against an app on a store, collecting (status, SHA-256 of body)."""

from __future__ import annotations

import asyncio
import hashlib
import time

from oauthlib.oauth1 import Client

from engagement_api.auth import bearer, credentials
from engagement_api.clock import FrozenClock
from engagement_api.ingest import ingest_records
from engagement_api.server import create_app
from engagement_api.store import AccessToken, Store
from engagement_api.times import parse_instant

from . import corpus

HOST = "golden.test"


def prepare(store: Store, world_records: list[dict]) -> dict[str, str]:
    """Ingest the world and the extra posts; an Authorization maker per auth kind."""
    ingest_records(store, world_records, key="golden:world", now=parse_instant(corpus.NOW))
    ingest_records(store, corpus.extra_records(), key="golden:extra", now=parse_instant(corpus.NOW))
    app = store.create_app(
        "golden", credentials.consumer_key(), credentials.consumer_secret(), True, 10**9
    )
    tokens = {}
    for name, user in (("alice", corpus.ALICE), ("bob", corpus.BOB)):
        token = AccessToken(
            credentials.access_token(user), credentials.access_token_secret(), app.id, user
        )
        store.create_access_token(token)
        tokens[name] = token
    return {"app": app, "tokens": tokens, "bearer": bearer.issue(store, app, int(time.time()))}


def _authorization(kind: str, keys: dict, url: str) -> str:
    if kind == "bearer":
        return f"Bearer {keys['bearer']}"
    app = keys["app"]
    token = keys["tokens"].get(kind)
    client = Client(
        app.consumer_key,
        client_secret=app.consumer_secret,
        resource_owner_key=token.token if token else None,
        resource_owner_secret=token.secret if token else None,
    )
    return client.sign(url, http_method="POST")[1]["Authorization"]


async def _call(app, path: str, authorization: str, body: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", HOST.encode()), (b"authorization", authorization.encode())],
        "client": ("127.0.0.1", 1),
        "server": (HOST, 80),
    }
    sent: list[dict] = []
    delivered = False

    async def receive():
        nonlocal delivered
        if delivered:
            await asyncio.sleep(3600)
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return status, payload


def digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:20]


def run(store: Store, world_records: list[dict], remember_answers: bool = True) -> list[dict]:
    """Every request of the corpus, in order, on one app (so later requests find what earlier
    ones left in the worker's memory, unless `remember_answers` is false)."""
    keys = prepare(store, world_records)
    app = create_app(store, FrozenClock(parse_instant(corpus.NOW)))
    if not remember_answers and hasattr(app, "services"):
        from engagement_api.engagement.rendered import RenderedMembers

        app.services.rendered = RenderedMembers(app.services.memory.reads, max_bytes=0)
    pools = corpus.id_pools(world_records + corpus.extra_records())
    answers = []
    loop = asyncio.new_event_loop()
    try:
        for request in corpus.requests(pools):
            path = f"/insights/engagement/{request['endpoint']}"
            authorization = _authorization(request["auth"], keys, f"http://{HOST}{path}")
            status, payload = loop.run_until_complete(
                _call(app, path, authorization, request["body"].encode())
            )
            answers.append({**request, "status": status, "digest": digest(payload)})
    finally:
        loop.close()
    return answers
