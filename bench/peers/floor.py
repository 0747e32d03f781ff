"""The FLOOR peer: a bare ASGI app that answers every POST with precomputed bytes.

It does what any server of this API must do and nothing more: read the request, gzip a
JSON answer at level 1 when the client accepts gzip (as engagement-api does), and write it.
The answers are engagement-api's own, captured once by bench_http.py: the /totals body (the
250-id answer) for /totals and any unknown path, and the /28hr and /historical answers for
those paths when captured, so every endpoint is compared at its real answer size.

    python bench/peers/floor.py --bodies DIR --port P [--workers 2]

DIR holds totals.json and, optionally, 28hr.json and historical.json (uncompressed JSON).
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib
from pathlib import Path

_bodies: dict[str, bytes] = {}


def _load() -> None:
    folder = Path(os.environ["FLOOR_BODIES"])
    for name in ("totals", "28hr", "historical"):
        path = folder / f"{name}.json"
        if path.exists():
            _bodies[f"/insights/engagement/{name}"] = path.read_bytes()
    _bodies[""] = _bodies["/insights/engagement/totals"]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _load()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    while True:  # read (and drop) the request body, as a real server must
        message = await receive()
        if not message.get("more_body"):
            break
    if scope["method"] == "GET":
        body = b'{"status":"ok"}'
    else:
        body = _bodies.get(scope["path"], _bodies[""])
    headers = [(b"content-type", b"application/json")]
    for name, value in scope["headers"]:
        if name == b"accept-encoding" and b"gzip" in value.lower():
            compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
            body = compressor.compress(body) + compressor.flush()
            headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
            break
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", required=True, help="folder of captured answers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if not (Path(args.bodies) / "totals.json").exists():
        raise SystemExit(f"{args.bodies}/totals.json is missing")
    import uvicorn

    os.environ["FLOOR_BODIES"] = os.path.abspath(args.bodies)
    uvicorn.run(
        "floor:app",
        app_dir=os.path.dirname(os.path.abspath(__file__)),
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    sys.exit(main())
