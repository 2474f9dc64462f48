"""Shared by the consent tests: bodies, callers, customers the service knows, and its events."""

import uuid
from collections.abc import Mapping
from datetime import timedelta

from events.contracts.envelope import Envelope
from services.kit.clock import now
from services.kit.identity import caller_headers

PROBLEM = "application/problem+json"


def new_customer_id() -> str:
    return f"cust-{uuid.uuid4()}"


async def known_customer(consent) -> str:
    """A new customer the service has learnt of, as from the profile service's event."""
    customer_id = new_customer_id()
    await consent.know_customer(customer_id)
    return customer_id


def in_seconds(seconds: float) -> str:
    return (now() + timedelta(seconds=seconds)).isoformat()


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


async def grant(http, body: dict, headers: Mapping[str, str] | None = None) -> dict:
    """The customer's own grant (the only direct one), unless other headers are given."""
    response = await http.post("/api/v1/consents", json=body, headers=headers or as_customer(body["customer_id"]))
    assert response.status_code == 201, response.text
    return response.json()


async def request_consent(http, body: dict, maker: Mapping[str, str]) -> dict:
    response = await http.post("/api/v1/consent-requests", json=body, headers=maker)
    assert response.status_code == 201, response.text
    return response.json()


async def decide(http, customer_id: str, **overrides) -> dict:
    body = {
        "customer_id": customer_id,
        "recipient": "wealth-management",
        "purpose": "marketing",
        "data_categories": ["basic"],
        **overrides,
    }
    response = await http.post("/api/v1/decisions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def history(http, consent_id: str) -> list[tuple]:
    response = await http.get(f"/api/v1/consents/{consent_id}/history")
    assert response.status_code == 200, response.text
    return [(h["from_status"], h["to_status"], h["actor"]) for h in response.json()]


async def consent_events(consent, event_type: str, consent_id: str) -> list[Envelope]:
    """The `event_type` events about one consent staged in the service's outbox, oldest first."""
    return [e for e in await consent.published(event_type) if e.payload.get("consent_id") == consent_id]
