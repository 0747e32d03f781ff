"""HTTP details shared by the routes: JSON bodies, gzip both ways, request URLs for signing."""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..engagement import error_body
from ..errors import ApiError
from .limits import MAX_GZIP_MEMBERS, body_limits

GZIP_LEVEL = 1  # level 9 costs three times the throughput for a few percent of size
JSON = "application/json"


def accepts_gzip(header: str | None) -> bool:
    """Whether `Accept-Encoding` admits gzip: named with q > 0, or `*` with q > 0 unnamed."""
    if not header:
        return False
    weights: dict[str, float] = {}
    for item in header.lower().split(","):
        coding, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding.strip()] = weight
    for coding in ("gzip", "x-gzip"):
        if coding in weights:
            return weights[coding] > 0
    return weights.get("*", 0.0) > 0


def gzip_bytes(body: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


def encoded(
    body: bytes, accept_encoding: str | None, headers: Mapping[str, str]
) -> tuple[bytes, dict[str, str]]:
    """The body as sent (gzipped when the client admits it, RULES.md 11) and its headers."""
    out = dict(headers)
    if accepts_gzip(accept_encoding):
        body = gzip_bytes(body)
        out["content-encoding"] = "gzip"
        out["vary"] = "Accept-Encoding"
    return body, out


def json_response(
    request: Request, status: int, document: object, headers: dict[str, str] | None = None
) -> Response:
    return bytes_response(request, status, orjson.dumps(document), headers)


def bytes_response(
    request: Request, status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> Response:
    body, out = encoded(body, request.headers.get("accept-encoding"), headers or {})
    return Response(body, status, out, media_type=JSON)


def error_response(request: Request, error: ApiError) -> Response:
    return bytes_response(request, error.status, error_body(error), error.headers)


def decode_body(raw: bytes | bytearray, content_encoding: str | None, limit: int) -> bytes:
    """The request body, gunzipped when sent with `Content-Encoding: gzip`, at most `limit`
    bytes once decoded (413 beyond)."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        body = raw
    elif encoding in ("gzip", "x-gzip"):
        body = _gunzip(raw, limit)
    else:
        raise ApiError(400, f"Unsupported Content-Encoding: {encoding}")
    if len(body) > limit:
        raise ApiError(413, f"Request body is larger than {limit} bytes once decompressed")
    return body


def decoded_body(request: Request, raw: bytes, limit: int | None = None) -> bytes:
    return decode_body(
        raw, request.headers.get("content-encoding"), limit or body_limits(request.url.path)[1]
    )


_CHUNK = 64 * 1024
_NOT_ZERO = re.compile(rb"[^\0]")


def _gunzip(raw: bytes | bytearray, limit: int) -> bytearray:
    """Every gzip member of the body (RFC 1952 allows several, we take MAX_GZIP_MEMBERS), at
    most `limit` + 1 bytes of output. The input is fed in chunks of a memoryview, so each
    byte is read once: a body of many empty members costs its length, not its square."""
    view = memoryview(raw)
    out = bytearray()  # extended part by part: no single large copy at the end
    size = position = members = 0
    while True:
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise ApiError(400, f"Request body has more than {MAX_GZIP_MEMBERS} gzip members")
        decompressor = zlib.decompressobj(47)  # gzip or zlib header, auto-detected
        try:
            while not decompressor.eof:
                if position >= len(raw):
                    raise ApiError(400, "Request body is not valid gzip: it is truncated")
                pending = view[position : position + _CHUNK]
                position += len(pending)
                while pending and size <= limit:
                    part = decompressor.decompress(pending, limit + 1 - size)
                    out += part
                    size += len(part)
                    pending = decompressor.unconsumed_tail
                if size > limit:
                    return out
        except zlib.error:
            raise ApiError(400, "Request body is not valid gzip") from None
        position -= len(decompressor.unused_data)  # the next member starts there
        if _NOT_ZERO.search(raw, position) is None:  # trailing zero padding is tolerated
            return out


def signing_urls(
    scheme: str, path: str, headers: Mapping[str, str], server_host: str
) -> tuple[str, ...]:
    """Base string URIs the client may have signed: as received, then as a proxy's client saw it.

    TLS is left to a fronting proxy (RULES.md section 11), so a client may have signed https
    while we see http; X-Forwarded-Proto/-Host say so when the proxy sets them. `path` is the
    raw path as sent, without the query; `server_host` the address the request reached.
    """
    schemes = [headers.get("x-forwarded-proto", scheme).split(",")[0].strip(), scheme]
    schemes += [s for s in ("https", "http") if s not in schemes]
    hosts = [h for h in (headers.get("host"), headers.get("x-forwarded-host")) if h]
    hosts = hosts or [server_host]  # an HTTP/1.0 client may send no Host
    urls = [
        f"{scheme}://{host.split(',')[0].strip()}{path}" for host in hosts for scheme in schemes
    ]
    return tuple(dict.fromkeys(urls))
