"""Churn against the running system (rules, no model promoted): features from customer,
feedback and complaint events, the explainable score, one churn.warning per band risen."""

import uuid
from decimal import Decimal

from events.contracts import (
    ComplaintOpenedV1,
    CustomerCreatedV1,
    CustomerUpdatedV1,
    FeedbackReceivedV1,
    event_type,
    new_event,
    topics,
)
from events.contracts.envelope import Envelope
from tests.support import eventually


def customer_created(customer_id: str, assets: str) -> Envelope:
    payload = CustomerCreatedV1(customer_id=customer_id, risk_level="C3", assets_under_management=Decimal(assets))
    return new_event("customer.created", payload, source="profile")


def customer_updated(customer_id: str, assets: str) -> Envelope:
    payload = CustomerUpdatedV1(
        customer_id=customer_id,
        risk_level="C3",
        assets_under_management=Decimal(assets),
        changed_fields=["assets_under_management"],
    )
    return new_event("customer.updated", payload, source="profile")


def complaint(customer_id: str) -> Envelope:
    payload = ComplaintOpenedV1(
        complaint_id=str(uuid.uuid4()), customer_id=customer_id, category="fees", channel="branch"
    )
    return new_event("complaint.opened", payload, source="feedback")


def feedback(customer_id: str, survey: str, score: int) -> Envelope:
    payload = FeedbackReceivedV1(
        feedback_id=str(uuid.uuid4()), customer_id=customer_id, survey=survey, score=score, channel="app"
    )
    return new_event("feedback.received", payload, source="feedback")


async def publish(kafka, *envelopes: Envelope) -> None:
    for envelope in envelopes:
        topic = event_type(envelope.type, envelope.version).topic
        await kafka.publish(topic, envelope.model_dump_json().encode(), key=envelope.customer_id)


async def churn_risk(client, system, customer_id: str, **expected) -> dict:
    """The customer's churn risk once it is known and its fields have the `expected` values."""

    async def check():
        response = await client.get(f"{system.url('churn')}/api/v1/customers/{customer_id}/churn-risk")
        assert response.status_code == 200, response.text
        body = response.json()
        for name, value in expected.items():
            assert body[name] == value, body
        return body

    return await eventually(check)


def contributions(body: dict) -> dict[str, int]:
    return {c["factor"]: c["points"] for c in body["contributions"]}


async def warnings_for(kafka, customer_id: str) -> list[Envelope]:
    records = await kafka.read_all(topics.CHURN, timeout=2.0)
    return [e for e, _ in records if isinstance(e, Envelope) and e.customer_id == customer_id]


async def test_unknown_customer_is_a_404_problem(system, client):
    response = await client.get(f"{system.url('churn')}/api/v1/customers/{uuid.uuid4()}/churn-risk")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "no events about this customer" in response.json()["detail"]


async def test_a_customer_id_the_database_cannot_hold_is_a_422_not_a_500(system, client):
    for customer_id in ("%00x", "x" * 65):
        response = await client.get(f"{system.url('churn')}/api/v1/customers/{customer_id}/churn-risk")
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"


async def test_feedback_for_an_unseen_customer_creates_features_and_counts_only_low_scores(system, kafka, client):
    customer_id = str(uuid.uuid4())
    # CSAT 2 is low and 3 is not; NPS 6 is a detractor and 7 is not.
    await publish(
        kafka,
        feedback(customer_id, "csat", 2),
        feedback(customer_id, "csat", 3),
        feedback(customer_id, "nps", 6),
        feedback(customer_id, "nps", 7),
    )
    await kafka.drained(topics.FEEDBACK, "feedback.received", customer_id, "churn")

    body = await churn_risk(client, system, customer_id)
    features = body["features"]
    assert (features["low_csat"], features["nps_detractors"], features["complaints"]) == (1, 1, 0)
    assert (features["last_feedback_survey"], features["last_feedback_score"]) == ("nps", 7)
    assert features["assets_under_management"] is None
    assert contributions(body) == {"complaints": 0, "low_csat": 10, "nps_detractor": 10, "aum_drop": 0}
    assert (body["score"], body["level"], body["model"]) == (20, "low", "rules-v1")
    assert all(c["explanation"] for c in body["contributions"])


async def test_the_same_event_delivered_twice_is_applied_once(system, kafka, client):
    customer_id = str(uuid.uuid4())
    event = complaint(customer_id)
    await publish(kafka, event, event)
    await kafka.drained(topics.COMPLAINT, "complaint.opened", customer_id, "churn")

    body = await churn_risk(client, system, customer_id)
    assert body["features"]["complaints"] == 1
    assert body["score"] == 20


async def test_an_invalid_payload_is_dead_lettered_and_the_consumer_goes_on(system, kafka, client):
    customer_id = str(uuid.uuid4())
    good = complaint(customer_id)
    without_category = {k: v for k, v in good.payload.items() if k != "category"}
    bad = good.model_copy(update={"id": uuid.uuid4(), "payload": without_category})
    await publish(kafka, bad)

    [(_, headers)] = await kafka.wait_for(
        topics.DEAD_LETTER, lambda e, h: e.id == bad.id and h.get("dlq_consumer_group") == "churn"
    )
    assert "payload invalid" in headers["dlq_reason"] and "category" in headers["dlq_reason"]

    await publish(kafka, good)
    body = await churn_risk(client, system, customer_id)
    assert body["features"]["complaints"] == 1


async def test_crossing_into_high_emits_exactly_one_warning(system, kafka, client):
    customer_id = str(uuid.uuid4())
    await publish(kafka, customer_created(customer_id, "100000.00"))
    await publish(kafka, complaint(customer_id), complaint(customer_id))
    await publish(kafka, feedback(customer_id, "csat", 1), feedback(customer_id, "csat", 2))
    await churn_risk(client, system, customer_id, score=60, level="medium")

    await publish(kafka, feedback(customer_id, "nps", 3))
    body = await churn_risk(client, system, customer_id, score=70, level="high")
    assert sum(c["points"] for c in body["contributions"]) == 70

    # Staying high (one more of each, the complaints factor already at its cap) warns no more.
    await publish(kafka, complaint(customer_id), feedback(customer_id, "nps", 0))
    await churn_risk(client, system, customer_id, score=80, level="high")

    await kafka.wait_for(topics.CHURN, lambda e, h: e.customer_id == customer_id, count=2)
    into_medium, into_high = await warnings_for(kafka, customer_id)
    assert into_medium.payload["level"] == "medium" and into_medium.payload["previous_level"] == "low"
    warning = into_high
    assert warning.type == "churn.warning" and warning.source == "churn"
    assert warning.payload == {
        "customer_id": customer_id,
        "score": 70,
        "level": "high",
        "previous_level": "medium",
        "reasons": ["complaints", "low_csat", "nps_detractor"],
        "model": "rules-v1",
    }


async def test_leaving_high_and_crossing_again_warns_again(system, kafka, client):
    customer_id = str(uuid.uuid4())
    await publish(kafka, customer_created(customer_id, "100000.00"), complaint(customer_id), complaint(customer_id))
    await churn_risk(client, system, customer_id, score=40)

    await publish(kafka, customer_updated(customer_id, "70000.00"))  # 30% below the peak
    await churn_risk(client, system, customer_id, score=60)
    await publish(kafka, feedback(customer_id, "csat", 1))
    await churn_risk(client, system, customer_id, score=70, level="high")
    await kafka.wait_for(topics.CHURN, lambda e, h: e.customer_id == customer_id)

    await publish(kafka, customer_updated(customer_id, "95000.00"))  # assets recover: medium
    body = await churn_risk(client, system, customer_id, score=50, level="medium")
    assert body["features"]["peak_assets"] == "100000.00"
    assert body["features"]["previous_assets"] == "70000.00"

    await publish(kafka, feedback(customer_id, "nps", 2), feedback(customer_id, "nps", 1))
    await churn_risk(client, system, customer_id, score=70, level="high")

    warnings = await kafka.wait_for(topics.CHURN, lambda e, h: e.customer_id == customer_id, count=3)
    assert [(w.payload["level"], w.payload["reasons"]) for w, _ in warnings] == [
        ("medium", ["complaints"]),
        ("high", ["complaints", "aum_drop", "low_csat"]),
        ("high", ["complaints", "nps_detractor", "low_csat"]),
    ]
    assert len(await warnings_for(kafka, customer_id)) == 3
