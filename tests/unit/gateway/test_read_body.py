"""The gateway reads a request body within its limits (gateway/limits.py: read_body)."""

import asyncio

import pytest
from starlette.requests import Request

from gateway.limits import read_body
from services.kit.problems import PayloadTooLarge, RequestTimeout


def request(headers: dict[str, str], chunks: list[bytes] | None) -> Request:
    """A request whose body arrives in `chunks`, or never (None)."""
    pending = list(chunks or [])

    async def receive() -> dict:
        if chunks is None:
            await asyncio.Event().wait()  # the client never sends
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw}, receive)


async def test_a_request_without_length_or_transfer_encoding_has_no_body_to_wait_for():
    assert await read_body(request({}, None), limit=100, timeout=0.5) == b""


async def test_a_chunked_body_is_read_whole_and_a_slow_one_is_cut_off():
    chunked = {"transfer-encoding": "chunked"}
    assert await read_body(request(chunked, [b"ab", b"cd"]), limit=100, timeout=5) == b"abcd"
    with pytest.raises(RequestTimeout):
        await read_body(request(chunked, None), limit=100, timeout=0.2)
    with pytest.raises(PayloadTooLarge):
        await read_body(request(chunked, [b"x" * 60, b"y" * 60]), limit=100, timeout=5)


async def test_a_declared_length_over_the_limit_is_refused_unread():
    with pytest.raises(PayloadTooLarge):
        await read_body(request({"content-length": "101"}, None), limit=100, timeout=5)
