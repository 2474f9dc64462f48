"""Calls and observations shared by the profile's service-tier tests."""

from collections.abc import Mapping

from events.contracts.envelope import Envelope
from tests.support import new_customer


async def create_customer(http, headers: Mapping[str, str] | None = None, **overrides) -> dict:
    """A new customer (tests.support.new_customer with `overrides`), created as `headers` say."""
    response = await http.post("/api/v1/customers", json=new_customer(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def announced(profile, name: str, customer_id: str) -> list[tuple[Envelope, str]]:
    """(envelope, Kafka key) of every `name` event about the customer in the outbox, oldest first
    (each checked against the AsyncAPI document by `published`, its key included)."""
    return [(event, event.customer_id) for event in await profile.published(name, customer_id=customer_id)]
