"""Churn in process: features from events fed to its handlers, risk read over HTTP."""

import uuid

from events.contracts import ComplaintOpenedV1, new_event


async def test_a_complaint_event_shows_in_the_churn_features(service):
    churn = await service("churn")
    customer_id = str(uuid.uuid4())
    complaint = ComplaintOpenedV1(
        customer_id=customer_id, complaint_id=str(uuid.uuid4()), category="fees", channel="branch"
    )
    event = new_event("complaint.opened", complaint, source="feedback")
    await churn.deliver(event)
    await churn.deliver(event)  # redelivered: the inbox applies it once

    async with churn.client("relationship_manager", "rm-1") as http:
        answer = await http.get(f"/api/v1/customers/{customer_id}/churn-risk")

    assert answer.status_code == 200, answer.text
    assert answer.json()["features"]["complaints"] == 1
