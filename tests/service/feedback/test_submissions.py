"""Feedback and complaints as the gateway submits them: validation naming the field, free text kept
out of responses and events, one event per accepted submission and none for a rejected one."""

import uuid

import pytest

from tests.service.feedback.conftest import known_customer, routing_of

PROBLEM = "application/problem+json"
GATEWAY = ("gateway", "gateway")
# Free text that must stay in the feedback database: never in responses or events.
SECRET_TEXT = "Call me on 13800138000, Wang Fang, ID 110101198506150011"


def feedback_body(customer_id: str, **overrides) -> dict:
    body = {"customer_id": customer_id, "survey": "csat", "score": 4, "channel": "mobile", "comment": SECRET_TEXT}
    body.update(overrides)
    return body


def complaint_body(customer_id: str, **overrides) -> dict:
    body = {"customer_id": customer_id, "category": "fees", "channel": "branch", "description": SECRET_TEXT}
    body.update(overrides)
    return body


async def test_feedback_is_recorded_and_published_without_its_comment(feedback):
    customer_id = await known_customer(feedback)
    async with feedback.client(*GATEWAY) as http:
        response = await http.post("/api/v1/feedback", json=feedback_body(customer_id))

    assert response.status_code == 201, response.text
    recorded = response.json()
    assert {k: recorded[k] for k in ("customer_id", "survey", "score", "channel")} == {
        "customer_id": customer_id, "survey": "csat", "score": 4, "channel": "mobile",
    }  # fmt: skip
    assert SECRET_TEXT not in response.text
    [event] = await feedback.published("feedback.received", customer_id=customer_id)
    assert (event.source, event.version) == ("feedback", 1)
    assert await routing_of(feedback, event) == ("feedback.received.v1", customer_id)
    assert event.payload == {
        "feedback_id": recorded["id"], "customer_id": customer_id, "survey": "csat", "score": 4, "channel": "mobile",
        "case_id": None,
    }  # fmt: skip
    assert "13800138000" not in event.model_dump_json()


async def test_every_score_in_a_surveys_range_is_accepted(feedback):
    customer_id = await known_customer(feedback)
    async with feedback.client(*GATEWAY) as http:
        for survey, score in (("csat", 1), ("csat", 5), ("nps", 0), ("nps", 10)):
            body = feedback_body(customer_id, survey=survey, score=score)
            del body["comment"]  # optional

            response = await http.post("/api/v1/feedback", json=body)

            assert response.status_code == 201, (survey, score, response.text)
            assert (response.json()["survey"], response.json()["score"]) == (survey, score)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"score": 6}, "score", "from 1 to 5 for a csat survey"),
        ({"score": 0}, "score", "from 1 to 5 for a csat survey"),
        ({"survey": "nps", "score": 11}, "score", "from 0 to 10 for a nps survey"),
        ({"survey": "nps", "score": -1}, "score", "from 0 to 10 for a nps survey"),
        ({"score": "5"}, "score", None),
        ({"score": 4.5}, "score", None),
        ({"survey": "ces", "score": 8}, "score", "from 1 to 7 for a ces survey"),
        ({"survey": "ces_v2"}, "survey", None),
        ({"channel": "fax"}, "channel", None),
        ({"comment": "x" * 2001}, "comment", None),
        ({"channel": None}, "channel", None),
        ({"customer_id": None}, "customer_id", None),
        ({"rating": 5}, "rating", None),  # unknown field
    ],
)
async def test_invalid_feedback_is_rejected_naming_the_field(feedback, change, field, message):
    body = {k: v for k, v in {**feedback_body(f"cust-{uuid.uuid4()}"), **change}.items() if v is not None}

    async with feedback.client(*GATEWAY) as http:
        response = await http.post("/api/v1/feedback", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert field in errors
    if message:
        assert message in errors[field]
    assert SECRET_TEXT not in response.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "weather"}, "category"),
        ({"description": "   "}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"description": None}, "description"),
        ({"channel": None}, "channel"),
        ({"status": "closed"}, "status"),  # unknown field: the service decides the status
    ],
)
async def test_an_invalid_complaint_is_rejected_naming_the_field(feedback, change, field):
    body = {k: v for k, v in {**complaint_body(f"cust-{uuid.uuid4()}"), **change}.items() if v is not None}

    async with feedback.client(*GATEWAY) as http:
        response = await http.post("/api/v1/complaints", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_rejected_feedback_and_complaints_publish_nothing(feedback):
    customer_id = await known_customer(feedback)
    rejected = [
        ("feedback", feedback_body(customer_id, score=6)),
        ("feedback", feedback_body(customer_id, survey="nps", score=11)),
        ("complaints", complaint_body(customer_id, category="weather")),
    ]
    async with feedback.client(*GATEWAY) as http:
        for path, body in rejected:
            assert (await http.post(f"/api/v1/{path}", json=body)).status_code == 422
        assert await feedback.published(customer_id=customer_id) == []

        recorded = (await http.post("/api/v1/feedback", json=feedback_body(customer_id))).json()
        opened = (await http.post("/api/v1/complaints", json=complaint_body(customer_id))).json()
    assert [
        e.payload["feedback_id"] for e in await feedback.published("feedback.received", customer_id=customer_id)
    ] == [recorded["id"]]
    assert [
        e.payload["complaint_id"] for e in await feedback.published("complaint.opened", customer_id=customer_id)
    ] == [opened["id"]]
