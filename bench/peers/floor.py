"""The FLOOR peer: a bare ASGI app that answers every POST with precomputed bytes.

It does what any server of this API must do and nothing more: read the request, gzip a
JSON answer at level 1 when the client accepts gzip (as engagement-api does), and write it.
The answers are engagement-api's own, captured once by bench_http.py, one per scenario: a
request names its scenario in the `x-bench-answer` header (engagement-api ignores it), so
every scenario is compared at its real answer size.

    python bench/peers/floor.py --bodies DIR --port P [--workers 2]

DIR holds one NAME.json (uncompressed JSON) per scenario.
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib
from pathlib import Path

_bodies: dict[bytes, bytes] = {}


def _load() -> None:
    for path in sorted(Path(os.environ["FLOOR_BODIES"]).glob("*.json")):
        _bodies[path.stem.encode()] = path.read_bytes()
    _bodies[b""] = next(iter(_bodies.values()))


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
    if not _bodies:
        _load()  # servers without lifespan events
    while True:  # read (and drop) the request body, as a real server must
        message = await receive()
        if not message.get("more_body"):
            break
    name, gzip = b"", False
    for header, value in scope["headers"]:
        if header == b"x-bench-answer":
            name = value
        elif header == b"accept-encoding" and b"gzip" in value.lower():
            gzip = True
    body = b'{"status":"ok"}' if scope["method"] == "GET" else _bodies.get(name, _bodies[b""])
    headers = [(b"content-type", b"application/json")]
    if gzip:
        compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
        body = compressor.compress(body) + compressor.flush()
        headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
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
    if not any(Path(args.bodies).glob("*.json")):
        raise SystemExit(f"{args.bodies} holds no captured answer")
    os.environ["FLOOR_BODIES"] = os.path.abspath(args.bodies)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import uvicorn

    uvicorn.run(
        "floor:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    sys.exit(main())
