"""The feedback service, called directly (the gateway in front of it is tested on its own)."""

import uuid

import pytest

from events.contracts import topics
from tests.support import introduce_customer, once_customer_known

PROBLEM = "application/problem+json"
# Free text that must stay in the feedback database: never in responses or events.
SECRET_TEXT = "Call me on 13800138000, Wang Fang, ID 110101198506150011"


def new_customer_id() -> str:
    return f"cust-{uuid.uuid4()}"


@pytest.fixture
def post(kafka, client, url):
    """POST a body for its customer, once the feedback service has learnt of that customer
    (`customer.created`, published here as the profile service would)."""
    introduced = set()

    async def send(path: str, body: dict):
        if body["customer_id"] not in introduced:
            await introduce_customer(kafka, body["customer_id"])
            introduced.add(body["customer_id"])
        return await once_customer_known(lambda: client.post(f"{url}{path}", json=body))

    return send


def feedback_body(customer_id: str, **overrides) -> dict:
    body = {"customer_id": customer_id, "survey": "csat", "score": 4, "channel": "mobile", "comment": SECRET_TEXT}
    body.update(overrides)
    return body


def complaint_body(customer_id: str, **overrides) -> dict:
    body = {"customer_id": customer_id, "category": "fees", "channel": "branch", "description": SECRET_TEXT}
    body.update(overrides)
    return body


@pytest.fixture
def url(system) -> str:
    return system.url("feedback")


async def test_feedback_is_recorded_and_published_without_its_comment(post, kafka):
    customer_id = new_customer_id()

    response = await post("/api/v1/feedback", feedback_body(customer_id))

    assert response.status_code == 201, response.text
    feedback = response.json()
    assert {k: feedback[k] for k in ("customer_id", "survey", "score", "channel")} == {
        "customer_id": customer_id, "survey": "csat", "score": 4, "channel": "mobile",
    }  # fmt: skip
    assert SECRET_TEXT not in response.text
    [(event, headers)] = await kafka.wait_for(
        topics.FEEDBACK, lambda e, _h: e.type == "feedback.received" and e.customer_id == customer_id
    )
    assert (event.source, event.version, headers["event_type"]) == ("feedback", 1, "feedback.received")
    assert event.payload == {
        "feedback_id": feedback["id"], "customer_id": customer_id, "survey": "csat", "score": 4, "channel": "mobile",
        "case_id": None,
    }  # fmt: skip
    assert "13800138000" not in event.model_dump_json()


@pytest.mark.parametrize(("survey", "score"), [("csat", 1), ("csat", 5), ("nps", 0), ("nps", 10)])
async def test_every_score_in_a_surveys_range_is_accepted(post, survey, score):
    body = feedback_body(new_customer_id(), survey=survey, score=score)
    del body["comment"]  # optional

    response = await post("/api/v1/feedback", body)

    assert response.status_code == 201, response.text
    assert (response.json()["survey"], response.json()["score"]) == (survey, score)


async def test_a_complaint_is_opened_and_published_without_its_description(post, kafka):
    customer_id = new_customer_id()

    response = await post("/api/v1/complaints", complaint_body(customer_id))

    assert response.status_code == 201, response.text
    complaint = response.json()
    assert (complaint["customer_id"], complaint["category"], complaint["channel"], complaint["status"]) == (
        customer_id, "fees", "branch", "opened",
    )  # fmt: skip
    assert SECRET_TEXT not in response.text
    [(event, headers)] = await kafka.wait_for(
        topics.COMPLAINT, lambda e, _h: e.type == "complaint.opened" and e.customer_id == customer_id
    )
    assert (event.source, headers["event_type"]) == ("feedback", "complaint.opened")
    assert event.payload == {
        "complaint_id": complaint["id"], "customer_id": customer_id, "category": "fees", "channel": "branch",
    }  # fmt: skip
    assert "13800138000" not in event.model_dump_json()


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
async def test_invalid_feedback_is_rejected_naming_the_field(client, url, change, field, message):
    body = {k: v for k, v in {**feedback_body(new_customer_id()), **change}.items() if v is not None}

    response = await client.post(f"{url}/api/v1/feedback", json=body)

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
async def test_an_invalid_complaint_is_rejected_naming_the_field(client, url, change, field):
    body = {k: v for k, v in {**complaint_body(new_customer_id()), **change}.items() if v is not None}

    response = await client.post(f"{url}/api/v1/complaints", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_rejected_feedback_and_complaints_publish_nothing(client, url, kafka, post):
    customer_id = new_customer_id()
    rejected = [
        ("feedback", feedback_body(customer_id, score=6)),
        ("feedback", feedback_body(customer_id, survey="nps", score=11)),
        ("complaints", complaint_body(customer_id, category="weather")),
    ]
    for path, body in rejected:
        assert (await client.post(f"{url}/api/v1/{path}", json=body)).status_code == 422

    # Accepted ones for the same customer afterwards: once they are on their topics, anything
    # published before them would be there too (one customer's events keep their order).
    feedback = (await post("/api/v1/feedback", feedback_body(customer_id))).json()
    complaint = (await post("/api/v1/complaints", complaint_body(customer_id))).json()
    on_feedback = await kafka.wait_for(topics.FEEDBACK, lambda e, _h: e.customer_id == customer_id)
    on_complaint = await kafka.wait_for(topics.COMPLAINT, lambda e, _h: e.customer_id == customer_id)
    assert [e.payload["feedback_id"] for e, _ in on_feedback] == [feedback["id"]]
    assert [e.payload["complaint_id"] for e, _ in on_complaint] == [complaint["id"]]
