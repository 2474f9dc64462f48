"""The check every published event goes through in the service and system tiers
(tests.support.AsyncApiConformance) catches what events/contracts/asyncapi.yaml does not allow."""

import jsonschema
import pytest

from tests.support import AsyncApiConformance


def test_an_undocumented_or_malformed_event_is_caught():
    conformance = AsyncApiConformance()
    envelope = b'{"id": "4b9c4c2e-6f1e-4f8e-9d8a-2b8f0c1d2e3f", "type": "customer.created", "version": 1, "source": "profile", "time": "2026-01-01T00:00:00Z", "customer_id": "c-1", "payload": {"customer_id": "c-1", "risk_level": "C9", "assets_under_management": "1"}}'
    headers = [
        ("event_id", b"4b9c4c2e-6f1e-4f8e-9d8a-2b8f0c1d2e3f"),
        ("event_type", b"customer.created"),
        ("event_version", b"1"),
        ("source", b"profile"),
    ]
    with pytest.raises(jsonschema.ValidationError):  # risk level C9 is not in the contract
        conformance.check("crm.customer", b"c-1", envelope, headers)
    with pytest.raises(AssertionError):  # a customer event on the consent topic
        conformance.check("crm.consent", b"c-1", envelope.replace(b'"C9"', b'"C2"'), headers)
    assert (
        conformance.check("crm.customer", b"c-1", envelope.replace(b'"C9"', b'"C2"'), headers) == "customer_created_v1"
    )
