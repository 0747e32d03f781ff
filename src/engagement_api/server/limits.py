"""What one request may cost: sizes and times, checked cheapest first (issue "Hostile input
costs the attacker, not the server"). The connection-level bounds are applied by
`protocol.GuardedProtocol`, the body bounds by the routes as they read.
"""

from __future__ import annotations

KIB, MIB = 1024, 1024 * 1024

# Connections (per worker process).
MAX_HEADER_BYTES = 32 * KIB  # request line and every header together
MAX_HEADERS = 100
HEADER_TIMEOUT = 10.0  # seconds to send a request's headers (from connecting or starting it)
BODY_IDLE_TIMEOUT = 10.0  # seconds a body may pause between chunks
KEEP_ALIVE_TIMEOUT = 5.0  # seconds an idle keep-alive connection stays open
MAX_CONNECTIONS = 2000

# Bodies: (bytes as sent, bytes once gunzipped). The engagement endpoints need a few KB for
# 250 ids; the raw bound is what reading may hold, the inflated one what parsing may see.
ENGAGEMENT_BODY = (1 * MIB, 4 * MIB)
FORM_BODY = (16 * KIB, 16 * KIB)  # /oauth2/token, /oauth2/invalidate_token, the 3-legged flow
CONTROL_BODY = (256 * KIB, 256 * KIB)
INGEST_BODY = (64 * MIB, 64 * MIB)  # POST /admin/ingest: one live batch
MAX_GZIP_MEMBERS = 64  # RFC 1952 allows several members; a real client sends one


def body_limits(path: str) -> tuple[int, int]:
    """The (raw, inflated) bounds of a request body on `path`."""
    if path == "/admin/ingest":
        return INGEST_BODY
    if path.startswith("/insights/"):
        return ENGAGEMENT_BODY
    if path.startswith("/_control/"):
        return CONTROL_BODY
    return FORM_BODY
