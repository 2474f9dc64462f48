"""Shared by the consent tests: bodies, callers and event filters."""

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from services.kit.identity import caller_headers
from tests.support import KafkaProbe, introduce_customer, once_customer_known

PROBLEM = "application/problem+json"


def new_customer_id() -> str:
    return f"cust-{uuid.uuid4()}"


def in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def in_days(days: float) -> str:
    return in_seconds(days * 86400)


def grant_body(customer_id: str, **overrides) -> dict:
    body = {
        "customer_id": customer_id,
        "recipient": "wealth-management",
        "purpose": "marketing",
        "data_categories": ["basic", "behaviour"],
        "expires_at": in_days(365),
        "channel": "mobile",
    }
    body.update(overrides)
    return body


def caller(role: str, actor_id: str | None = None, *, reason: str | None = None) -> Mapping[str, str]:
    """The credential the gateway sends for an authenticated caller."""
    return caller_headers(role, actor_id or f"{role}-{uuid.uuid4().hex[:8]}", reason=reason)


def as_customer(customer_id: str) -> Mapping[str, str]:
    return caller_headers("customer", customer_id, customer_scope=customer_id)


# The broker probe through which tests tell the consent service a customer exists (conftest).
PROBE: KafkaProbe | None = None
_introduced: set[str] = set()


async def post_for_customer(client, url: str, body: dict, headers):
    """POST `body` once the consent service has learnt its customer (from `customer.created`,
    published here for ids no profile service created)."""
    customer_id = body["customer_id"]
    if customer_id not in _introduced:
        if PROBE is None:
            raise RuntimeError("the conftest sets helpers.PROBE before any test posts")
        await introduce_customer(PROBE, customer_id)
        _introduced.add(customer_id)
    return await once_customer_known(lambda: client.post(url, json=body, headers=headers))


async def grant(client, url: str, body: dict, **headers: str) -> dict:
    """The customer's own grant (the only direct one), unless other headers are given."""
    response = await post_for_customer(
        client, f"{url}/api/v1/consents", body, headers or as_customer(body["customer_id"])
    )
    assert response.status_code == 201, response.text
    return response.json()


async def request_consent(client, url: str, body: dict, maker: Mapping[str, str]) -> dict:
    response = await post_for_customer(client, f"{url}/api/v1/consent-requests", body, maker)
    assert response.status_code == 201, response.text
    return response.json()


async def decide(client, url: str, customer_id: str, **overrides) -> dict:
    body = {
        "customer_id": customer_id,
        "recipient": "wealth-management",
        "purpose": "marketing",
        "data_categories": ["basic"],
        **overrides,
    }
    response = await client.post(f"{url}/api/v1/decisions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def history(client, url: str, consent_id: str) -> list[tuple]:
    response = await client.get(f"{url}/api/v1/consents/{consent_id}/history")
    assert response.status_code == 200, response.text
    return [(h["from_status"], h["to_status"], h["actor"]) for h in response.json()]


def consent_events(event_type: str, consent_id: str):
    return lambda e, _h: e.type == event_type and e.payload.get("consent_id") == consent_id
