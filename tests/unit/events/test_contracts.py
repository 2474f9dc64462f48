"""The published description of the topics matches the code, and contracts hold their shape."""

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from events.contracts import (
    REGISTRY,
    ComplaintOpenedV1,
    CustomerCreatedV1,
    UnknownEvent,
    asyncapi,
    new_event,
    parse_payload,
    topics,
)
from events.contracts.envelope import Envelope


def test_asyncapi_file_is_up_to_date():
    committed = (Path(asyncapi.__file__).parent / "asyncapi.yaml").read_text()
    assert committed == asyncapi.render(), "run: python -m events.contracts.asyncapi > events/contracts/asyncapi.yaml"


def test_every_event_type_has_a_documented_topic():
    document = asyncapi.document()
    for (name, version), contract in REGISTRY.items():
        assert contract.topic in topics.ALL
        assert f"{name.replace('.', '_')}_v{version}" in document["channels"][contract.topic]["messages"]


def test_envelope_round_trip_and_key():
    customer_id = str(uuid.uuid4())
    event = new_event(
        "customer.created",
        CustomerCreatedV1(customer_id=customer_id, risk_level="C2", assets_under_management=Decimal("10.50")),
        source="profile",
    )
    again = Envelope.model_validate_json(event.model_dump_json())
    assert again == event
    assert again.customer_id == customer_id
    assert parse_payload(again) == CustomerCreatedV1(
        customer_id=customer_id, risk_level="C2", assets_under_management=Decimal("10.50")
    )


def test_wrong_payload_type_is_refused():
    with pytest.raises(TypeError):
        new_event(
            "customer.created",
            ComplaintOpenedV1(complaint_id="1", customer_id="c", category="fees", channel="web"),
            source="feedback",
        )


def test_unknown_type_and_invalid_payload_are_refused():
    event = new_event(
        "complaint.opened",
        ComplaintOpenedV1(complaint_id="1", customer_id="c", category="fees", channel="web"),
        source="x",
    )
    with pytest.raises(UnknownEvent):
        parse_payload(event.model_copy(update={"version": 99}))
    with pytest.raises(ValidationError):
        parse_payload(event.model_copy(update={"payload": {"customer_id": "c"}}))
