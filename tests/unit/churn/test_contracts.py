"""The core-banking contracts other teams publish to, and the producer example's events."""

import pytest
from pydantic import ValidationError

from events.contracts import BalanceSnapshotV1, TransactionPostedV1, event_type, parse_payload, topics
from events.examples.corebanking_producer import example_events


def test_the_producer_example_publishes_valid_events_on_the_activity_topic():
    for envelope in example_events("c-1"):
        assert event_type(envelope.type, envelope.version).topic == topics.COREBANKING_ACTIVITY
        assert isinstance(parse_payload(envelope), (TransactionPostedV1, BalanceSnapshotV1))
        assert envelope.customer_id == "c-1"


def test_a_transaction_needs_a_positive_amount_and_a_known_direction():
    [transaction, _] = example_events("c-1")
    for bad in ({"amount": "-1"}, {"direction": "sideways"}, {"posted_at": None}):
        with pytest.raises(ValidationError):
            parse_payload(transaction.model_copy(update={"payload": {**transaction.payload, **bad}}))
