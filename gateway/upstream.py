"""Pooled HTTP clients to the services, behind one small interface so the benchmark can compare
them. The default is `Http11Upstream`: kept-alive HTTP/1.1 connections whose answers httptools
parses (llhttp, the parser uvicorn serves with). Per call it costs about half the CPU of
aiohttp's pooled session (`BENCH_ONLY=routes make bench`; README, Benchmarks). aiohttp's session
(the previous default) stays selectable (`GATEWAY_UPSTREAM_TRANSPORT=aiohttp`)."""

import asyncio
import re
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, Protocol
from urllib.parse import quote, urlsplit

import aiohttp
import httptools
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from services.kit.audit import ACCESS_RECORDED_HEADER
from services.kit.observability import tracing_recorded


@dataclass
class UpstreamResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    # The component that recorded this access in its own audit trail, if it says so.
    recorded_by: str | None = None


class UpstreamError(Exception):
    """The service did not answer (refused, reset, timed out)."""

    def __init__(self, timed_out: bool):
        self.timed_out = timed_out


class Upstream(Protocol):
    async def request(
        self, method: str, url: str, *, headers: dict[str, str], body: bytes, timeout: float | None = None
    ) -> UpstreamResponse: ...

    async def close(self) -> None: ...


# Response headers worth passing back to the front ends.
PASSED_BACK = ("content-type", "etag", "location", "x-request-id", "retry-after")


class AiohttpUpstream:
    def __init__(self, pool_size: int, timeout_seconds: float):
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=pool_size, limit_per_host=pool_size, keepalive_timeout=30),
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            auto_decompress=False,
            # The answers are masked as the services send them: never ask for them compressed.
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            # One session serves every caller: a cookie a service set must never travel with
            # another caller's call (and no jar is searched per call).
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def request(
        self, method: str, url: str, *, headers: dict[str, str], body: bytes, timeout: float | None = None
    ) -> UpstreamResponse:
        # Without a per-call timeout the session's default applies (None here would disable it).
        client_timeout = aiohttp.ClientTimeout(total=timeout) if timeout else self.session.timeout
        try:
            async with self.session.request(
                method, url, headers=headers, data=body or None, timeout=client_timeout
            ) as response:
                content = await response.read()
                passed = {k: response.headers[k] for k in PASSED_BACK if k in response.headers}
                return UpstreamResponse(response.status, passed, content, response.headers.get(ACCESS_RECORDED_HEADER))
        except TimeoutError:
            raise UpstreamError(timed_out=True) from None
        except aiohttp.ClientError:
            raise UpstreamError(timed_out=False) from None

    async def close(self) -> None:
        await self.session.close()


class _Origin(NamedTuple):
    host: str
    port: int
    tls: bool
    host_header: str


@lru_cache(maxsize=64)
def _origin(scheme_and_authority: str) -> _Origin:
    parts = urlsplit(scheme_and_authority)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"An upstream URL must be http or https with a host, not {scheme_and_authority!r}.")
    tls = parts.scheme == "https"
    # The Host header names the authority without any user:password part.
    return _Origin(parts.hostname, parts.port or (443 if tls else 80), tls, parts.netloc.rpartition("@")[2])


# What may stand in a request target as it is; anything else is percent-encoded (a path taken
# decoded from the caller's request may hold a space or a non-ASCII letter).
_TARGET_AS_IS = re.compile(r"[A-Za-z0-9/?=&%:@!$'()*+,;~._-]*")
_BREAKS_A_HEADER = re.compile(r"[\r\n\0]")
# Methods a failed call on a reused connection may be sent again for (the service closed the
# kept-alive connection as the call went out). Others fail: the service may have acted on them.
_IDEMPOTENT = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS"))
# Answer headers read at all: those passed back, and the service's word that it audited the access.
_ANSWER_HEADERS_READ = frozenset((*PASSED_BACK, ACCESS_RECORDED_HEADER.lower()))


def _request_bytes(method: str, target: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    if not _TARGET_AS_IS.fullmatch(target):
        target = quote(target, safe="/?=&%:@!$'()*+,;~")
    if _BREAKS_A_HEADER.search("".join((*headers, *headers.values()))):  # one search for them all
        broken = next(name for name, value in headers.items() if _BREAKS_A_HEADER.search(name + value))
        raise ValueError(f"The header {broken!r} holds a line break.")
    lines = [f"{method} {target} HTTP/1.1\r\nhost: {host}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers.items()]
    if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
        lines.append(f"content-length: {len(body)}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + body


class KeptAliveConnection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection to a service, one call at a time (also `make bench`'s
    load generator's connection to the server it measures)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[UpstreamResponse] | None = None
        self.open = True
        self.reusable = True
        self.answer_begun = False
        self.idle_since = 0.0
        self._head_only = False
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    def call(self, request: bytes, head_only: bool) -> "asyncio.Future[UpstreamResponse]":
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.answer_begun, self._head_only = False, head_only
        self.transport.write(request)
        return self.waiter

    @property
    def usable(self) -> bool:
        """Open, and no answer on it asked to close it."""
        return self.open and self.reusable

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # nothing asked: the stream can no longer be trusted to line up
            self.close()
            return
        self.answer_begun = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ConnectionError(f"a malformed answer: {error}"))
            self.close()

    def eof_received(self) -> bool:
        # The service closed its side: not to be used again, even before the transport says lost.
        self.open = False
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self._fail(exc or ConnectionResetError("the service closed the connection"))

    def _fail(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)
        self.waiter = None

    # httptools' callbacks

    def on_message_begin(self) -> None:
        if self.waiter is None:
            # An answer nobody asked for, in the same bytes as the one asked for: what follows it
            # on this connection cannot be trusted to line up with the next call.
            self.reusable = False
        self._headers, self._body = {}, []

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        if key in _ANSWER_HEADERS_READ:
            self._headers[key] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self._head_only:
            # An answer to HEAD has no body, whatever its content-length says; the parser cannot
            # be told so, so the answer ends here and the connection is not used again.
            self.reusable = False
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.reusable = False
        if self.waiter is not None and not self.waiter.done():
            recorded_by = self._headers.pop(ACCESS_RECORDED_HEADER.lower(), None)
            status = self.parser.get_status_code()
            self.waiter.set_result(UpstreamResponse(status, self._headers, b"".join(self._body), recorded_by))
        self.waiter = None


class Http11Upstream:
    """Kept-alive HTTP/1.1 connections to the services: at most `pool_size` calls at once (more
    wait for a free one), each on a connection of its own. A connection idle for `idle_seconds` is
    closed rather than used, which must stay below the services' own keep-alive
    (`http_keep_alive_seconds`, 5 s), so that the gateway does not send on a connection a service
    is closing. Where it still happens, a call with no answer begun is sent once more on a new
    connection if its method is idempotent."""

    def __init__(self, pool_size: int, timeout_seconds: float, idle_seconds: float = 4.0):
        self.timeout_seconds, self.idle_seconds = timeout_seconds, idle_seconds
        self._calls = asyncio.Semaphore(pool_size)
        self._idle: defaultdict[_Origin, list[KeptAliveConnection]] = defaultdict(list)
        self._tls: ssl.SSLContext | None = None
        self._tracer = trace.get_tracer("bank-crm.gateway")
        self._closed = False

    async def request(
        self, method: str, url: str, *, headers: dict[str, str], body: bytes, timeout: float | None = None
    ) -> UpstreamResponse:
        slash = url.find("/", url.find("://") + 3)
        origin = _origin(url if slash < 0 else url[:slash])
        target = "/" if slash < 0 else url[slash:]
        if not tracing_recorded():
            return await self._timed(method, origin, target, headers, body, timeout)
        # Where spans are recorded, the call is a client span, and its context goes to the service.
        with self._tracer.start_as_current_span(
            method,
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "server.address": origin.host, "server.port": origin.port},
        ) as span:
            headers = dict(headers)
            propagate.inject(headers)
            answer = await self._timed(method, origin, target, headers, body, timeout)
            span.set_attribute("http.response.status_code", answer.status)
            return answer

    async def _timed(
        self, method: str, origin: _Origin, target: str, headers: dict[str, str], body: bytes, timeout: float | None
    ) -> UpstreamResponse:
        request = _request_bytes(method, target, origin.host_header, headers, body)
        try:
            async with asyncio.timeout(timeout or self.timeout_seconds), self._calls:
                return await self._exchange(origin, request, method)
        except TimeoutError:
            raise UpstreamError(timed_out=True) from None
        except OSError:  # refused, reset, closed, a malformed answer (ConnectionError is one)
            raise UpstreamError(timed_out=False) from None

    async def _exchange(self, origin: _Origin, request: bytes, method: str) -> UpstreamResponse:
        while True:
            connection = self._idle_connection(origin)
            reused = connection is not None
            if connection is None:
                connection = await self._connect(origin)
            answered = False
            try:
                answer = await connection.call(request, head_only=method == "HEAD")
                answered = True
                return answer
            except OSError:
                if reused and not connection.answer_begun and method in _IDEMPOTENT:
                    continue
                raise
            finally:
                # A connection whose call failed, timed out or was cancelled may still receive
                # that call's answer: it is closed, never used again.
                if answered and connection.usable and not self._closed:
                    connection.idle_since = time.monotonic()
                    self._idle[origin].append(connection)
                else:
                    connection.close()

    def _idle_connection(self, origin: _Origin) -> KeptAliveConnection | None:
        idle = self._idle[origin]
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be closing
            if connection.open and time.monotonic() - connection.idle_since < self.idle_seconds:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: _Origin) -> KeptAliveConnection:
        if origin.tls and self._tls is None:
            self._tls = ssl.create_default_context()
        _, connection = await asyncio.get_running_loop().create_connection(
            KeptAliveConnection, origin.host, origin.port, ssl=self._tls if origin.tls else None
        )
        return connection

    async def close(self) -> None:
        """Closes the idle connections; those of calls still out close as their answers arrive."""
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


def open_upstream(transport: str, pool_size: int, timeout_seconds: float) -> Upstream:
    kind = AiohttpUpstream if transport == "aiohttp" else Http11Upstream
    return kind(pool_size, timeout_seconds)
