"""OWASP API4:2023 Unrestricted Resource Consumption (issue 7, items 6 and 7), through the
running gateway: deep JSON, large bodies, large headers and tokens, per-caller rate limits."""

import uuid

import pytest

DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    "path,role", [("/api/v1/consents", "customer"), ("/api/v1/feedback", "customer"), ("/api/v1/decisions", "admin")]
)
async def test_deeply_nested_json_is_refused_with_a_400(system, client, gateway, path, role):
    headers = {
        **system.headers(role, str(uuid.uuid4()), **{"X-Access-Reason": "test"}),
        "Content-Type": "application/json",
    }
    response = await client.post(gateway + path, content=DEEP, headers=headers)
    assert response.status_code == 400, response.text
    assert "deeper" in response.json()["detail"]


async def test_a_body_over_the_limit_is_refused_unread(system, client, gateway):
    response = await client.post(
        f"{gateway}/api/v1/feedback",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={**system.headers("customer", "c-1"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_oversized_headers_and_tokens_are_refused(system, client, gateway):
    big_header = await client.get(
        f"{gateway}/api/v1/products", headers={**system.headers("customer", "c-1"), "X-Padding": "x" * 20_000}
    )
    assert big_header.status_code == 431
    big_token = await client.get(f"{gateway}/api/v1/products", headers={"Authorization": "Bearer " + "a" * 10_000})
    assert big_token.status_code == 401


async def test_a_caller_over_the_configured_rate_gets_429_with_retry_after(system, client, gateway):
    system.restart_component("gateway", GATEWAY_RATE_LIMITS="5/minute")
    try:
        caller = system.headers("customer", "c-rate")
        statuses = [(await client.get(f"{gateway}/api/v1/products", headers=caller)).status_code for _ in range(5)]
        limited = await client.get(f"{gateway}/api/v1/products", headers=caller)
        other = await client.get(f"{gateway}/api/v1/products", headers=system.headers("customer", "c-other"))
    finally:
        system.restart_component("gateway", GATEWAY_RATE_LIMITS="100/second;3000/minute")
    assert statuses == [200] * 5
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert other.status_code == 200  # per caller
