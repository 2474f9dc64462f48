"""Surveys the platform sends by itself, across services: a customer whose complaints raise
their churn band to medium is asked, by churn's retention playbook, how satisfied they are; the
feedback service invites them, and the invitation reaches the bank's messaging system's topic
with a token that answers the survey once through the gateway."""

import httpx
import pytest

from events.contracts import topics
from services.churn.playbooks.service import in_holdout
from services.churn.settings import ChurnSettings
from tests.support import eventually, new_customer, once_customer_known


@pytest.fixture
def gateway(system) -> str:
    return system.url("gateway") + "/api/v1"


async def test_a_customer_rising_to_the_medium_band_is_invited_to_a_survey_they_answer_once(
    system, kafka, client, gateway
):
    manager = system.headers("relationship_manager")
    while True:  # a customer outside the hold-out group (about 9 in 10 are), who would get nothing
        created = await client.post(f"{gateway}/customers", json=new_customer(), headers=manager)
        assert created.status_code == 201, created.text
        customer_id = created.json()["id"]
        if not in_holdout(customer_id, ChurnSettings(model_dir="unused")):
            break
    me = system.headers("customer", customer_id)
    for text in ("Card blocked abroad.", "Nobody called back."):
        complaint = {"customer_id": customer_id, "category": "service", "channel": "mobile", "description": text}
        answer = await once_customer_known(lambda: client.post(f"{gateway}/complaints", headers=me, json=complaint))
        assert answer.status_code == 201, answer.text

    async def medium() -> None:
        risk = await client.get(f"{gateway}/customers/{customer_id}/churn-risk", headers=manager)
        assert risk.status_code == 200 and risk.json()["level"] == "medium", risk.text

    await eventually(medium)
    [(invited, headers)] = await kafka.wait_for(topics.SURVEY_INVITATIONS, lambda e, h: e.customer_id == customer_id)
    assert (invited.type, invited.source) == ("survey.invited", "feedback")
    assert (invited.payload["survey"], invited.payload["channel"], invited.payload["case_id"]) == (
        "nps",
        "mobile",
        None,
    )

    # Answered from the customer's phone: an address of its own (the route is limited per address,
    # and other tests spend this process's allowance).
    token = invited.payload["token"]
    async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")) as phone:
        answered = await phone.post(f"{gateway}/survey-answers", json={"token": token, "score": 8})
        assert answered.status_code == 201, answered.text
        again = await phone.post(f"{gateway}/survey-answers", json={"token": token, "score": 0})
        assert again.status_code == 409

    async def recorded() -> None:
        listed = await client.get(f"{gateway}/survey-answers", params={"customer_id": customer_id}, headers=manager)
        assert [(a["survey"], a["score"]) for a in listed.json()["items"]] == [("nps", 8)], listed.text

    await eventually(recorded)
