"""The feedback service in process: customers it knows from events, and calls as each role."""

import uuid
from datetime import UTC, datetime

import pytest

from events.contracts import CustomerCreatedV1, new_event

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def feedback(service):
    return await service("feedback")


async def known_customer(feedback, *, manager: str = "rm-1", tier: str = "mass") -> str:
    """A customer the service has heard of from the profile service, managed by `manager`."""
    customer_id = f"cust-{uuid.uuid4()}"
    await feedback.deliver(
        new_event(
            "customer.created",
            CustomerCreatedV1(
                customer_id=customer_id,
                risk_level="C3",
                assets_under_management="1000",
                relationship_manager_id=manager,
                tier=tier,
            ),
            source="profile",
        )
    )
    return customer_id


def case_body(customer_id: str, **overrides) -> dict:
    return {
        "customer_id": customer_id,
        "kind": "complaint",
        "category": "fees",
        "channel": "branch",
        "description": "Charged twice, call me on 13800138000",
        **overrides,
    }


async def routing_of(feedback, event) -> tuple[str, str]:
    """The outbox row's `type` and `aggregateid` for `event`: what the relay sends as the
    event_type and event_version headers and as the record key (events/outbox.py)."""
    row = await feedback.outbox_row(event)
    return row.type, row.aggregateid
