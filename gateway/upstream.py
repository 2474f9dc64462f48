"""Pooled HTTP clients to the services. Two transports behind one small interface, so the
benchmark can compare them; aiohttp is the default (see README: measured several times faster
than httpx's default pool on the same proxy)."""

from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx

from services.kit.audit import ACCESS_RECORDED_HEADER


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


class HttpxUpstream:
    def __init__(self, pool_size: int, timeout_seconds: float):
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
            timeout=httpx.Timeout(timeout_seconds, pool=timeout_seconds),
        )

    async def request(
        self, method: str, url: str, *, headers: dict[str, str], body: bytes, timeout: float | None = None
    ) -> UpstreamResponse:
        try:
            response = await self.client.request(
                method, url, headers=headers, content=body or None, timeout=timeout or httpx.USE_CLIENT_DEFAULT
            )
        except httpx.TimeoutException:
            raise UpstreamError(timed_out=True) from None
        except httpx.TransportError:
            raise UpstreamError(timed_out=False) from None
        passed = {k: response.headers[k] for k in PASSED_BACK if k in response.headers}
        return UpstreamResponse(
            response.status_code, passed, response.content, response.headers.get(ACCESS_RECORDED_HEADER)
        )

    async def close(self) -> None:
        await self.client.aclose()


def open_upstream(transport: str, pool_size: int, timeout_seconds: float) -> Upstream:
    kind = AiohttpUpstream if transport == "aiohttp" else HttpxUpstream
    return kind(pool_size, timeout_seconds)
