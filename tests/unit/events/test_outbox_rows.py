"""The outbox stages bulk events (emit_many) without building envelopes: what it stores must be
exactly what an envelope of the same event serialises to, and read back as that envelope."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from events.contracts import CustomerCreatedV1, CustomerUpdatedV1, new_event
from events.contracts.envelope import Envelope
from events.outbox import _traceparent, envelope_json

PAYLOADS = [
    ("customer.created", CustomerCreatedV1(customer_id="c-1", assets_under_management=Decimal("7919.00"))),
    (
        "customer.created",
        CustomerCreatedV1(
            customer_id=str(uuid.uuid4()),
            risk_level="C3",
            assets_under_management=Decimal("0"),
            relationship_manager_id='rm-é"\\',
            tier="high_net_worth",
            age_band="65_79",
        ),
    ),
    (
        "customer.updated",
        CustomerUpdatedV1(
            customer_id="c-2", assets_under_management=Decimal("1.50"), changed_fields=["assets_under_management"]
        ),
    ),
]
TRACES: list[dict[str, str | None]] = [
    {"trace_id": None, "traceparent": None},
    {"trace_id": "4bf92f3577b34da6", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
]


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize(("name", "payload"), PAYLOADS)
def test_bulk_rows_are_the_envelopes_json(name, payload, trace):
    envelope = new_event(name, payload, source="profile", **trace)
    stored = envelope_json(envelope.id, name, "profile", envelope.time, envelope.customer_id, trace, payload)
    assert stored == envelope.model_dump_json()
    assert Envelope.model_validate_json(stored) == envelope
    assert _traceparent(stored) == trace["traceparent"]


def test_bulk_rows_keep_the_time_zone_and_microseconds():
    at = datetime(2026, 11, 29, 5, 6, 7, 891011, tzinfo=UTC)
    payload = PAYLOADS[0][1]
    event_id = uuid.uuid4()
    stored = envelope_json(event_id, "customer.created", "profile", at, "c-1", TRACES[0], payload)
    assert '"time":"2026-11-29T05:06:07.891011Z"' in stored
    assert stored.startswith(f'{{"id":"{event_id}","type":"customer.created","version":1,"source":"profile"')
