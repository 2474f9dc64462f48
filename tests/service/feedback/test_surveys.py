"""Survey invitations answered once by token, detractors' follow-ups, free text at rest."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from events.contracts import ChurnSurveyRequestedV1, CustomerErasedV1, new_event
from services.kit.clock import movable
from tests.service.feedback.conftest import T0, case_body, known_customer

AGENT = ("service_agent", "agent-7")
COMMENT = "Wang Fang here, 13800138000, the app froze"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _invite(feedback, customer_id, **overrides) -> dict:
    async with feedback.client(*AGENT) as agent:
        answer = await agent.post(
            "/api/v1/survey-invitations",
            json={"customer_id": customer_id, "survey": "nps", "channel": "mobile", **overrides},
        )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_an_invitation_is_answered_once_without_a_login(feedback):
    customer_id = await known_customer(feedback)
    invitation = await _invite(feedback, customer_id, survey="csat")
    async with feedback.client("anonymous", "anonymous") as anonymous:
        first = await anonymous.post("/api/v1/survey-answers", json={"token": invitation["token"], "score": 5})
        again = await anonymous.post("/api/v1/survey-answers", json={"token": invitation["token"], "score": 1})
    assert first.status_code == 201, first.text
    assert set(first.json()) == {"id", "survey", "score", "received_at"}  # nothing about the customer
    assert again.status_code == 409 and "already been answered" in again.json()["detail"]
    [event] = await feedback.published("feedback.received", customer_id=customer_id)
    assert (event.payload["survey"], event.payload["score"]) == ("csat", 5)
    async with feedback.sessions() as session:
        stored = await session.scalar(
            sa.text("SELECT token_hash FROM survey_invitations WHERE id = :i"), {"i": invitation["id"]}
        )
    assert stored != invitation["token"] and invitation["token"] not in stored


async def test_two_answers_at_once_count_once(feedback):
    customer_id = await known_customer(feedback)
    invitation = await _invite(feedback, customer_id)
    async with feedback.client("anonymous", "anonymous") as a, feedback.client("anonymous", "anonymous") as b:
        answers = await asyncio.gather(
            a.post("/api/v1/survey-answers", json={"token": invitation["token"], "score": 9}),
            b.post("/api/v1/survey-answers", json={"token": invitation["token"], "score": 10}),
        )
    assert sorted(r.status_code for r in answers) == [201, 409]


async def test_a_bad_score_keeps_the_invitation_open_and_unknown_or_expired_tokens_are_refused(feedback):
    customer_id = await known_customer(feedback)
    with movable(T0) as clock:
        invitation = await _invite(feedback, customer_id, survey="ces")
        async with feedback.client("anonymous", "anonymous") as anonymous:
            bad = await anonymous.post("/api/v1/survey-answers", json={"token": invitation["token"], "score": 8})
            assert bad.status_code == 422 and "from 1 to 7" in bad.text
            unknown = await anonymous.post("/api/v1/survey-answers", json={"token": "A" * 43, "score": 3})
            assert unknown.status_code == 404
            clock.to(T0 + timedelta(days=31))
            expired = await anonymous.post("/api/v1/survey-answers", json={"token": invitation["token"], "score": 3})
            assert expired.status_code == 410
            clock.to(T0 + timedelta(days=1))
            ok = await anonymous.post("/api/v1/survey-answers", json={"token": invitation["token"], "score": 3})
            assert ok.status_code == 201


async def test_a_detractor_opens_a_follow_up_case_that_must_close_within_48_hours(feedback):
    customer_id = await known_customer(feedback)
    invitation = await _invite(feedback, customer_id, survey="nps")
    async with feedback.client("anonymous", "anonymous") as anonymous:
        await anonymous.post(
            "/api/v1/survey-answers", json={"token": invitation["token"], "score": 3, "comment": COMMENT}
        )
    async with feedback.client(*AGENT) as agent:
        [answer] = (await agent.get("/api/v1/survey-answers", params={"customer_id": customer_id})).json()["items"]
        assert answer["detractor"] is True and answer["comment"] == COMMENT
        case = (await agent.get(f"/api/v1/cases/{answer['follow_up_case_id']}")).json()
    assert (case["kind"], case["category"], case["answer_id"]) == ("follow_up", "detractor_follow_up", answer["id"])
    resolution = {c["kind"]: c for c in case["clocks"]}["resolution"]
    assert _time(resolution["breach_at"]) - _time(case["opened_at"]) == timedelta(hours=48)
    [opened] = await feedback.published("case.opened", customer_id=customer_id)
    assert opened.payload["kind"] == "follow_up"
    # Free text is sealed at rest, and published nowhere.
    async with feedback.sessions() as session:
        raw = await session.scalar(sa.text("SELECT comment FROM feedback WHERE id = :i"), {"i": answer["id"]})
    assert "13800138000" not in raw
    assert all("13800138000" not in e.model_dump_json() for e in await feedback.published(customer_id=customer_id))


async def test_promoters_and_neutral_scores_open_nothing(feedback):
    customer_id = await known_customer(feedback)
    async with feedback.client(*AGENT) as agent:
        for survey, score in (("nps", 7), ("nps", 10), ("csat", 3), ("ces", 5)):
            body = {"customer_id": customer_id, "survey": survey, "score": score, "channel": "web"}
            assert (await agent.post("/api/v1/feedback", json=body)).status_code == 201
        for survey, score in (("csat", 2), ("ces", 6)):
            body = {"customer_id": customer_id, "survey": survey, "score": score, "channel": "web"}
            assert (await agent.post("/api/v1/feedback", json=body)).json()["follow_up_case_id"]
    assert len(await feedback.published("case.opened", customer_id=customer_id)) == 2


async def test_answers_are_listed_only_to_whom_may_see_them(feedback):
    mine = await known_customer(feedback, manager="rm-1")
    other = await known_customer(feedback, manager="rm-2")
    async with feedback.client(*AGENT) as agent:
        for customer_id in (mine, other):
            body = {"customer_id": customer_id, "survey": "csat", "score": 4, "channel": "web"}
            assert (await agent.post("/api/v1/feedback", json=body)).status_code == 201
    async with feedback.client("customer", other, customer_scope=other) as stranger:
        listed = (await stranger.get("/api/v1/survey-answers", params={"customer_id": mine})).json()["items"]
        assert listed == []
        body = {"customer_id": mine, "survey": "csat", "score": 1, "channel": "web"}
        assert (await stranger.post("/api/v1/feedback", json=body)).status_code == 404
    async with feedback.client("relationship_manager", "rm-2") as other_manager:
        assert (await other_manager.get("/api/v1/survey-answers", params={"customer_id": mine})).json()["items"] == []
        invite = {"customer_id": mine, "survey": "nps", "channel": "web"}
        assert (await other_manager.post("/api/v1/survey-invitations", json=invite)).status_code == 404
    async with feedback.client("relationship_manager", "rm-1") as manager:
        assert len((await manager.get("/api/v1/survey-answers", params={"customer_id": mine})).json()["items"]) == 1


async def test_an_answer_rates_only_a_case_of_the_same_customer(feedback):
    mine, other = await known_customer(feedback), await known_customer(feedback)
    async with feedback.client(*AGENT) as agent:
        case_id = (await agent.post("/api/v1/cases", json=case_body(mine))).json()["id"]
        wrong = await agent.post(
            "/api/v1/survey-invitations",
            json={"customer_id": other, "survey": "csat", "channel": "web", "case_id": case_id},
        )
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "case_id"
        right = await agent.post(
            "/api/v1/feedback",
            json={"customer_id": mine, "survey": "csat", "score": 5, "channel": "web", "case_id": case_id},
        )
        assert right.status_code == 201 and right.json()["case_id"] == case_id
    [event] = await feedback.published("feedback.received", customer_id=mine)
    assert event.payload["case_id"] == case_id


async def _resolve(agent, case_id: str, root_cause: str = "fee_error") -> None:
    for action, body in (("acknowledge", {}), ("resolve", {"root_cause": root_cause})):
        answer = await agent.post(f"/api/v1/cases/{case_id}/{action}", json=body)
        assert answer.status_code == 200, (action, answer.text)


async def test_a_resolved_case_invites_its_customer_once_and_the_published_token_answers_it(feedback):
    customer_id = await known_customer(feedback)
    async with feedback.client(*AGENT) as agent:
        case_id = (await agent.post("/api/v1/cases", json=case_body(customer_id, channel="mobile"))).json()["id"]
        assert await feedback.published("survey.invited", customer_id=customer_id) == []  # not before resolution
        await _resolve(agent, case_id)
    [invited] = await feedback.published("survey.invited", customer_id=customer_id)
    assert {k: invited.payload[k] for k in ("survey", "channel", "case_id")} == {
        "survey": "csat",
        "channel": "mobile",
        "case_id": case_id,
    }
    # The token exists in clear only in the event; the database keeps its hash.
    token = invited.payload["token"]
    async with feedback.sessions() as session:
        stored = (
            await session.execute(
                sa.text("SELECT token_hash, created_by, expires_at FROM survey_invitations WHERE case_id = :c"),
                {"c": case_id},
            )
        ).one()
    assert token not in stored.token_hash and stored.created_by == "case-resolution"

    async with feedback.client("anonymous", "anonymous") as anonymous:
        answered = await anonymous.post("/api/v1/survey-answers", json={"token": token, "score": 5})
        again = await anonymous.post("/api/v1/survey-answers", json={"token": token, "score": 1})
    assert answered.status_code == 201, answered.text
    assert again.status_code == 409
    [rated] = await feedback.published("feedback.received", customer_id=customer_id)
    assert (rated.payload["case_id"], rated.payload["survey"], rated.payload["score"]) == (case_id, "csat", 5)

    # The case followed up, closed and reopened: the new case, resolved after the quiet week, is
    # surveyed on its own.
    with movable(datetime.now(UTC) + timedelta(days=8)):
        async with feedback.client(*AGENT) as agent:
            await agent.post(f"/api/v1/cases/{case_id}/follow-up", json={"note": "Refund confirmed"})
            await agent.post(f"/api/v1/cases/{case_id}/close", json={"root_cause": "fee_error"})
            reopened = (await agent.post(f"/api/v1/cases/{case_id}/reopen", json={"note": "Again"})).json()["id"]
            await _resolve(agent, reopened)
    invitations = await feedback.published("survey.invited", customer_id=customer_id)
    assert [e.payload["case_id"] for e in invitations] == [case_id, reopened]


async def test_the_service_sends_a_customer_at_most_one_survey_a_week_and_staff_may_still_invite(feedback):
    customer_id = await known_customer(feedback)
    with movable(T0) as clock:
        async with feedback.client(*AGENT) as agent:
            first, second, later = [
                (await agent.post("/api/v1/cases", json=case_body(customer_id))).json()["id"] for _ in range(3)
            ]
            await _resolve(agent, first)
            clock.to(T0 + timedelta(days=6))
            await _resolve(agent, second)  # within the quiet week: no survey
            await feedback.deliver(_survey_requested(customer_id))  # nor for retention
            staff = {"customer_id": customer_id, "survey": "nps", "channel": "web", "case_id": second}
            assert (await agent.post("/api/v1/survey-invitations", json=staff)).status_code == 201
            clock.to(T0 + timedelta(days=8))
            await _resolve(agent, later)
    invited = await feedback.published("survey.invited", customer_id=customer_id)
    assert [e.payload["case_id"] for e in invited] == [first, later]


async def test_no_survey_for_a_follow_up_case_a_case_already_invited_or_when_switched_off(service):
    feedback = await service("feedback")
    customer_id = await known_customer(feedback)
    async with feedback.client(*AGENT) as agent:
        # A detractor's answer opens a follow-up case: resolving the call back asks nothing again.
        body = {"customer_id": customer_id, "survey": "csat", "score": 1, "channel": "web"}
        follow_up = (await agent.post("/api/v1/feedback", json=body)).json()["follow_up_case_id"]
        await _resolve(agent, follow_up, root_cause="contacted_resolved")
        # Staff invited the customer to rate this case already: one invitation per case.
        case_id = (await agent.post("/api/v1/cases", json=case_body(customer_id))).json()["id"]
        invite = {"customer_id": customer_id, "survey": "nps", "channel": "web", "case_id": case_id}
        assert (await agent.post("/api/v1/survey-invitations", json=invite)).status_code == 201
        await _resolve(agent, case_id)
    assert await feedback.published("survey.invited", customer_id=customer_id) == []

    quiet = await service("feedback", FEEDBACK_RESOLUTION_SURVEY="none")
    customer_id = await known_customer(quiet)
    async with quiet.client(*AGENT) as agent:
        case_id = (await agent.post("/api/v1/cases", json=case_body(customer_id))).json()["id"]
        await _resolve(agent, case_id)
        assert (await agent.get(f"/api/v1/cases/{case_id}")).json()["state"] == "resolved"
    assert await quiet.published("survey.invited", customer_id=customer_id) == []


def _survey_requested(customer_id: str):
    payload = ChurnSurveyRequestedV1(
        customer_id=customer_id, intervention_id=str(uuid.uuid4()), survey="nps", channel="mobile"
    )
    return new_event("churn.survey_requested", payload, source="churn")


async def test_a_retention_playbooks_request_invites_the_customer_once_and_never_an_unknown_or_erased_one(feedback):
    customer_id = await known_customer(feedback)
    request = _survey_requested(customer_id)
    await feedback.deliver(request)
    await feedback.deliver(request)  # delivered again (at least once): applied once
    [invited] = await feedback.published("survey.invited", customer_id=customer_id)
    assert (invited.payload["survey"], invited.payload["channel"], invited.payload["case_id"]) == (
        "nps",
        "mobile",
        None,
    )
    async with feedback.client("anonymous", "anonymous") as anonymous:
        answered = await anonymous.post("/api/v1/survey-answers", json={"token": invited.payload["token"], "score": 9})
    assert answered.status_code == 201, answered.text

    stranger = f"cust-{uuid.uuid4()}"  # never announced by profile
    await feedback.deliver(_survey_requested(stranger))
    erased = await known_customer(feedback)
    await feedback.deliver(
        new_event(
            "customer.erased",
            CustomerErasedV1(customer_id=erased, erased_at=datetime.now(UTC)),
            source="profile",
        )
    )
    await feedback.deliver(_survey_requested(erased))
    for nobody in (stranger, erased):
        assert await feedback.published("survey.invited", customer_id=nobody) == []
    async with feedback.sessions() as session:
        count = (
            sa.select(sa.func.count())
            .select_from(sa.text("survey_invitations"))
            .where(sa.column("customer_id").in_([stranger, erased]))
        )
        assert await session.scalar(count) == 0
