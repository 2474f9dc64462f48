"""What the gateway refuses before any work is done, and the headers every answer carries:
header and body size, JSON nesting depth, slow bodies, per-caller rate limits (GatewaySettings)."""

import asyncio
import math
import re
import time

from fastapi import Request
from limits import parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.problems import PayloadTooLarge, Problem, RequestTimeout, TooManyRequests


class RateLimits:
    """Moving-window limits per key (a caller, or a client address before authentication)."""

    def __init__(self, notation: str):
        self.items = parse_many(notation) if notation.strip() else []
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, key: str) -> None:
        for item in self.items:
            if not await self.limiter.hit(item, key):
                stats = await self.limiter.get_window_stats(item, key)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                problem = TooManyRequests(f"Too many requests (limit {item}); retry after {retry_after} s.")
                problem.headers["Retry-After"] = str(retry_after)
                raise problem


async def read_body(request: Request, *, limit: int, timeout: float) -> bytes:
    """The request body, refused (413) beyond `limit` bytes, before reading it when the client
    declares its length, and cut off (408) when the client sends it slower than `timeout`."""
    declared = request.headers.get("content-length")
    if declared == "0" or (declared is None and "transfer-encoding" not in request.headers):
        return b""  # a request with neither header has no body (RFC 9112, 6.3): nothing to wait for
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise PayloadTooLarge(f"The request body may be at most {limit} bytes.")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"The request body may be at most {limit} bytes.")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout("The request body arrived too slowly; send it again.") from None
    return b"".join(chunks)


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in `body` (brackets inside strings do not count),
    found without parsing, so a hostile document cannot exhaust the parser's recursion."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def check_json_depth(body: bytes, limit: int) -> None:
    if body and json_depth(body) > limit:
        raise Problem(f"The JSON body nests deeper than {limit} levels.", title="Body too deeply nested")


API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The API viewer's page: its own scripts and styles only (served by the gateway, no CDN).
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)
# The dashboard (gateway/dashboard): its own script, styles and chart library; no inline script.
DASHBOARD_PREFIX = "/dashboard"
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'"
)


class EdgeGuard:
    """Refuses oversized headers (431) and adds the security headers to every answer:
    no caching of what may be customer data, no MIME sniffing, a content security policy,
    HSTS, no referrer, no server banner."""

    def __init__(
        self, app: ASGIApp, *, max_header_bytes: int, hsts_max_age_seconds: int, docs_prefixes: tuple[str, ...]
    ):
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.hsts = f"max-age={hsts_max_age_seconds}; includeSubDomains".encode()
        self.docs_prefixes = docs_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        csp = (
            DOCS_CSP
            if path.startswith(self.docs_prefixes)
            else (DASHBOARD_CSP if path.startswith(DASHBOARD_PREFIX) else API_CSP)
        )

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                present = {k.lower() for k, _ in headers}
                for name, value in (
                    (b"cache-control", b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"content-security-policy", csp.encode()),
                    (b"strict-transport-security", self.hsts),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        if sum(len(k) + len(v) for k, v in scope["headers"]) > self.max_header_bytes:
            body = (
                b'{"type":"about:blank","title":"Request header fields too large","status":431,'
                b'"detail":"The request headers are too large."}'
            )
            await secured(
                {
                    "type": "http.response.start",
                    "status": 431,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await secured({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, secured)
