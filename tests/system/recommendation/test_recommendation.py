"""Recommendation's consumer against the broker: a poison message is dead-lettered and the
consumer goes on (the read model, rules and ranking in process: tests/service/recommendation)."""

import uuid
from decimal import Decimal

from events.contracts import ConsentGrantedV1, CustomerCreatedV1, new_event, topics
from events.contracts.envelope import Envelope
from services.kit.identity import caller_headers
from tests.support import eventually


async def publish(kafka, envelope: Envelope, topic: str) -> None:
    await kafka.publish(topic, envelope.model_dump_json().encode(), key=envelope.customer_id)


async def onboard(kafka, customer_id: str) -> None:
    """A customer known to recommendation, with a marketing consent."""
    created = CustomerCreatedV1(customer_id=customer_id, assets_under_management=Decimal("250000.00"), age_band="40_64")
    await publish(kafka, new_event("customer.created", created, source="profile"), topics.CUSTOMER)
    consent = ConsentGrantedV1(
        consent_id=str(uuid.uuid4()),
        customer_id=customer_id,
        recipient="wealth-management",
        purpose="marketing",
        data_categories=["basic", "risk"],
        expires_at=None,
    )
    await publish(kafka, new_event("consent.granted", consent, source="consent"), topics.CONSENT)


async def recommendations(client, system, customer_id: str) -> dict:
    """The customer's recommendations, once known. Consent events travel on their own topic, so
    they may arrive after the customer's."""

    async def check():
        response = await client.get(
            f"{system.url('recommendation')}/api/v1/customers/{customer_id}/recommendations?limit=50",
            headers=caller_headers("customer", customer_id),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["items"], body
        return body

    return await eventually(check)


async def test_a_message_that_is_not_json_is_dead_lettered_and_the_consumer_goes_on(system, kafka, client):
    customer_id = str(uuid.uuid4())
    garbage = f"not json {uuid.uuid4()}".encode()
    await kafka.publish(topics.CUSTOMER, garbage, key=customer_id)

    async def dead_lettered() -> dict:
        records = await kafka.read_all(topics.DEAD_LETTER)
        found = [h for value, h in records if value == garbage and h.get("dlq_consumer_group") == "recommendation"]
        assert found
        return found[0]

    headers = await eventually(dead_lettered)
    assert headers["dlq_reason"].startswith("not an event envelope")
    assert headers["dlq_topic"] == topics.CUSTOMER

    await onboard(kafka, customer_id)
    body = await recommendations(client, system, customer_id)
    assert body["customer_id"] == customer_id
