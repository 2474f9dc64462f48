"""Churn's consumer against the broker: an event whose payload breaks its contract is
dead-lettered and the consumer goes on (features, scores and warnings in process:
tests/service/churn/test_risk.py)."""

import uuid

from events.contracts import ComplaintOpenedV1, new_event, topics
from events.contracts.envelope import Envelope
from tests.support import eventually


async def publish(kafka, envelope: Envelope) -> None:
    await kafka.publish(topics.COMPLAINT, envelope.model_dump_json().encode(), key=envelope.customer_id)


async def test_an_invalid_payload_is_dead_lettered_and_the_consumer_goes_on(system, kafka, client):
    customer_id = str(uuid.uuid4())
    payload = ComplaintOpenedV1(
        complaint_id=str(uuid.uuid4()), customer_id=customer_id, category="fees", channel="branch"
    )
    good = new_event("complaint.opened", payload, source="feedback")
    without_category = {k: v for k, v in good.payload.items() if k != "category"}
    bad = good.model_copy(update={"id": uuid.uuid4(), "payload": without_category})
    await publish(kafka, bad)

    [(_, headers)] = await kafka.wait_for(
        topics.DEAD_LETTER, lambda e, h: e.id == bad.id and h.get("dlq_consumer_group") == "churn"
    )
    assert "payload invalid" in headers["dlq_reason"] and "category" in headers["dlq_reason"]

    await publish(kafka, good)

    async def known() -> dict:
        response = await client.get(f"{system.url('churn')}/api/v1/customers/{customer_id}/churn-risk")
        assert response.status_code == 200, response.text
        return response.json()

    assert (await eventually(known))["features"]["complaints"] == 1
