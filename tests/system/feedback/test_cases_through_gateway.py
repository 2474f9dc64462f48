"""The complaint flow and the closed loop through the gateway: a customer complains, an agent
works the case to closed, a closed case refuses changes; an invited NPS 3 answer (no login)
opens a follow-up case; an invitation answers once; free text masked by role; scoping by
customer and manager for routes that name a case."""

import pytest

from tests.support import eventually, new_customer, once_customer_known

MANAGER = "rm-cases-1"
DESCRIPTION = "Charged twice for the transfer; call me on 13800138000"


@pytest.fixture
def gateway(system) -> str:
    return system.url("gateway") + "/api/v1"


async def _customer(client, system, gateway, manager=MANAGER) -> str:
    created = await client.post(
        f"{gateway}/customers", json=new_customer(), headers=system.headers("relationship_manager", manager)
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_a_complaint_is_worked_to_closed_and_then_frozen(system, client, gateway):
    customer_id = await _customer(client, system, gateway)
    me = system.headers("customer", customer_id)
    agent = system.headers("service_agent", "agent-7")

    opened = await once_customer_known(
        lambda: client.post(
            f"{gateway}/complaints",
            headers=me,
            json={"customer_id": customer_id, "category": "fees", "channel": "mobile", "description": DESCRIPTION},
        )
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]

    # Staff only work cases; a compliance officer reads but may not change one.
    officer = system.headers("compliance_officer", "officer-1", **{"X-Access-Reason": "complaint review"})
    assert (await client.post(f"{gateway}/cases/{case_id}/acknowledge", json={}, headers=me)).status_code == 403
    assert (await client.post(f"{gateway}/cases/{case_id}/acknowledge", json={}, headers=officer)).status_code == 403

    for action, body, state in (
        ("acknowledge", {"note": "Called the customer"}, "acknowledged"),
        ("wait", {}, "waiting_on_customer"),
        ("resolve", {"root_cause": "fee_error"}, "resolved"),
        ("follow-up", {"note": "Refund confirmed on the call"}, "followed_up"),
        ("close", {}, "closed"),
    ):
        answer = await client.post(f"{gateway}/cases/{case_id}/{action}", json=body, headers=agent)
        assert answer.status_code == 200, (action, answer.text)
        assert answer.json()["state"] == state
    refused = await client.post(f"{gateway}/cases/{case_id}/start", json={}, headers=agent)
    assert refused.status_code == 409 and "closed" in refused.json()["detail"]

    mine = await client.get(f"{gateway}/cases/{case_id}", headers=me)
    assert mine.status_code == 200
    assert (mine.json()["state"], mine.json()["root_cause"]) == ("closed", "fee_error")
    assert mine.json()["case_description"] == DESCRIPTION  # the customer's own words, in clear for them
    masked = (await client.get(f"{gateway}/cases/{case_id}", headers=system.headers("admin"))).json()
    assert masked["case_description"] == "*" * len(DESCRIPTION)
    assert (
        await client.get(f"{gateway}/cases/{case_id}", headers=system.headers("marketing_analyst"))
    ).status_code == 403

    stranger = await _customer(client, system, gateway)
    assert (
        await client.get(f"{gateway}/cases/{case_id}", headers=system.headers("customer", stranger))
    ).status_code == 404
    assert (await client.get(f"{gateway}/cases", headers=system.headers("customer", stranger))).json()["items"] == []

    async def managers_scoped():
        theirs = await client.get(f"{gateway}/cases/{case_id}", headers=system.headers("relationship_manager", MANAGER))
        assert theirs.status_code == 200
        other = await client.get(f"{gateway}/cases/{case_id}", headers=system.headers("relationship_manager", "rm-x"))
        assert other.status_code == 404

    await eventually(managers_scoped)  # the service learns the manager from the customer's event


async def test_an_invited_nps_3_opens_a_follow_up_and_the_invitation_answers_once(system, client, gateway):
    customer_id = await _customer(client, system, gateway)
    agent = system.headers("service_agent", "agent-7")
    invited = await once_customer_known(
        lambda: client.post(
            f"{gateway}/survey-invitations",
            headers=agent,
            json={"customer_id": customer_id, "survey": "nps", "channel": "web"},
        )
    )
    assert invited.status_code == 201, invited.text
    token = invited.json()["token"]
    assert (
        await client.post(
            f"{gateway}/survey-invitations",
            headers=system.headers("customer", customer_id),
            json={"customer_id": customer_id, "survey": "nps", "channel": "web"},
        )
    ).status_code == 403

    answered = await client.post(f"{gateway}/survey-answers", json={"token": token, "score": 3, "comment": "slow app"})
    assert answered.status_code == 201, answered.text
    again = await client.post(f"{gateway}/survey-answers", json={"token": token, "score": 9})
    assert again.status_code == 409

    [answer] = (
        await client.get(f"{gateway}/survey-answers", params={"customer_id": customer_id}, headers=agent)
    ).json()["items"]
    assert (answer["score"], answer["detractor"], answer["comment"]) == (3, True, "slow app")
    follow_up = (await client.get(f"{gateway}/cases/{answer['follow_up_case_id']}", headers=agent)).json()
    assert (follow_up["kind"], follow_up["state"], follow_up["answer_id"]) == ("follow_up", "opened", answer["id"])
    mine = (await client.get(f"{gateway}/cases", headers=system.headers("customer", customer_id))).json()["items"]
    assert [c["id"] for c in mine] == [follow_up["id"]]


async def test_the_answer_route_takes_only_well_formed_tokens_and_few_calls(system, client, gateway):
    assert (await client.post(f"{gateway}/survey-answers", json={"score": 3})).status_code == 401
    assert (await client.post(f"{gateway}/survey-answers", json={"token": "short", "score": 3})).status_code == 401
    unknown = await client.post(f"{gateway}/survey-answers", json={"token": "A" * 43, "score": 3})
    assert unknown.status_code == 404
    statuses = [
        (await client.post(f"{gateway}/survey-answers", json={"token": "B" * 43, "score": 3})).status_code
        for _ in range(25)
    ]
    assert 429 in statuses and statuses[-1] == 429
