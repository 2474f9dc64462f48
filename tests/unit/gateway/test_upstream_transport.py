"""The gateway's pooled session to the services: one session serves every caller, so nothing a
service sends back may travel with the next caller's call."""

import pytest
from aiohttp import web

from gateway.upstream import AiohttpUpstream, HttpxUpstream


@pytest.fixture
async def service_setting_a_cookie():
    """A service that sets a cookie on every answer and echoes the Cookie and Accept-Encoding
    headers it was sent."""

    async def answer(request: web.Request) -> web.Response:
        response = web.json_response(
            {"cookie": request.headers.get("Cookie"), "accept_encoding": request.headers.get("Accept-Encoding")},
            headers={"X-Access-Recorded": "profile"},
        )
        response.set_cookie("session", "caller-a-secret")
        return response

    app = web.Application()
    app.router.add_get("/echo", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]  # the port the system gave
    # By name, as the services are reached (a client keeps no cookies for a bare IP address).
    yield f"http://localhost:{port}/echo"
    await runner.cleanup()


async def test_a_cookie_a_service_sets_is_not_sent_with_the_next_call(service_setting_a_cookie):
    upstream = AiohttpUpstream(pool_size=2, timeout_seconds=5)
    try:
        first = await upstream.request("GET", service_setting_a_cookie, headers={}, body=b"")
        second = await upstream.request("GET", service_setting_a_cookie, headers={}, body=b"")
    finally:
        await upstream.close()
    assert b"caller-a-secret" not in second.body
    assert b'"cookie": null' in second.body
    # Answers come as the service sent them (the gateway masks them): none asked compressed.
    assert b'"accept_encoding": null' in first.body
    # The service's word that it recorded the access reaches the gateway, not the caller's headers.
    assert first.recorded_by == "profile"
    assert "x-access-recorded" not in first.headers


async def test_the_httpx_transport_reads_the_recorded_signal_too(service_setting_a_cookie):
    upstream = HttpxUpstream(pool_size=2, timeout_seconds=5)
    try:
        answer = await upstream.request("GET", service_setting_a_cookie, headers={}, body=b"")
    finally:
        await upstream.close()
    assert answer.recorded_by == "profile"
