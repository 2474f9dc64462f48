"""Churn by its rules (no model promoted), in process: features from customer, feedback and
complaint events fed to its handlers, the explainable score over HTTP, one churn.warning in the
outbox per band risen."""

import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from events.contracts import (
    ComplaintOpenedV1,
    CustomerCreatedV1,
    CustomerUpdatedV1,
    FeedbackReceivedV1,
    new_event,
)
from events.contracts.envelope import Envelope
from services.churn.features.models import CustomerFeatures
from services.churn.features.value import lifetime_value

PROBLEM = "application/problem+json"


@pytest.fixture
async def churn(service, rules_only_dir):
    return await service("churn", CHURN_MODEL_DIR=rules_only_dir)


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


async def deliver(churn, *envelopes: Envelope) -> None:
    for envelope in envelopes:
        await churn.deliver(envelope)


async def churn_risk(churn, customer_id: str, **expected) -> dict:
    """The customer's churn risk, checked to have the `expected` values."""
    async with churn.client("gateway", "gateway") as http:
        response = await http.get(f"/api/v1/customers/{customer_id}/churn-risk")
    assert response.status_code == 200, response.text
    body = response.json()
    assert {name: body[name] for name in expected} == expected, body
    return body


def contributions(body: dict) -> dict[str, int]:
    return {c["factor"]: c["points"] for c in body["contributions"]}


async def test_an_unknown_customer_is_a_404_problem(churn):
    async with churn.client("gateway", "gateway") as http:
        response = await http.get(f"/api/v1/customers/{uuid.uuid4()}/churn-risk")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "no events about this customer" in response.json()["detail"]


async def test_a_customer_id_the_database_cannot_hold_is_a_422_not_a_500(churn):
    async with churn.client("gateway", "gateway") as http:
        for customer_id in ("%00x", "x" * 65):
            response = await http.get(f"/api/v1/customers/{customer_id}/churn-risk")
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == PROBLEM


async def test_feedback_for_an_unseen_customer_creates_features_and_counts_only_low_scores(churn):
    customer_id = str(uuid.uuid4())
    # CSAT 2 is low and 3 is not; NPS 6 is a detractor and 7 is not.
    await deliver(
        churn,
        feedback(customer_id, "csat", 2),
        feedback(customer_id, "csat", 3),
        feedback(customer_id, "nps", 6),
        feedback(customer_id, "nps", 7),
    )

    body = await churn_risk(churn, customer_id)
    features = body["features"]
    assert (features["low_csat"], features["nps_detractors"], features["complaints"]) == (1, 1, 0)
    assert (features["last_feedback_survey"], features["last_feedback_score"]) == ("nps", 7)
    assert features["assets_under_management"] is None
    assert contributions(body) == {"complaints": 0, "low_csat": 10, "nps_detractor": 10, "aum_drop": 0}
    assert (body["score"], body["level"], body["model"]) == (20, "low", "rules-v1")
    assert all(c["explanation"] for c in body["contributions"])


async def test_the_same_event_delivered_twice_is_applied_once(churn):
    customer_id = str(uuid.uuid4())
    event = complaint(customer_id)
    await churn.deliver(event)
    await churn.deliver(event)  # redelivered: the inbox applies it once

    body = await churn_risk(churn, customer_id)
    assert body["features"]["complaints"] == 1
    assert body["score"] == 20


async def test_crossing_into_high_emits_exactly_one_warning(churn):
    customer_id = str(uuid.uuid4())
    await deliver(churn, customer_created(customer_id, "100000.00"), complaint(customer_id), complaint(customer_id))
    await deliver(churn, feedback(customer_id, "csat", 1), feedback(customer_id, "csat", 2))
    await churn_risk(churn, customer_id, score=60, level="medium")

    await deliver(churn, feedback(customer_id, "nps", 3))
    body = await churn_risk(churn, customer_id, score=70, level="high")
    assert sum(c["points"] for c in body["contributions"]) == 70

    # Staying high (one more of each, the complaints factor already at its cap) warns no more.
    await deliver(churn, complaint(customer_id), feedback(customer_id, "nps", 0))
    await churn_risk(churn, customer_id, score=80, level="high")

    into_medium, into_high = await churn.published("churn.warning", customer_id=customer_id)
    assert into_medium.payload["level"] == "medium" and into_medium.payload["previous_level"] == "low"
    assert (into_high.source, into_high.version) == ("churn", 1)
    assert into_high.payload == {
        "customer_id": customer_id,
        "score": 70,
        "level": "high",
        "previous_level": "medium",
        "reasons": ["complaints", "low_csat", "nps_detractor"],
        "model": "rules-v1",
    }
    assert len(await churn.published("churn.warning", customer_id=customer_id)) == 2


async def test_leaving_high_and_crossing_again_warns_again(churn):
    customer_id = str(uuid.uuid4())
    await deliver(churn, customer_created(customer_id, "100000.00"), complaint(customer_id), complaint(customer_id))
    await churn_risk(churn, customer_id, score=40)

    await deliver(churn, customer_updated(customer_id, "70000.00"))  # 30% below the peak
    await churn_risk(churn, customer_id, score=60)
    await deliver(churn, feedback(customer_id, "csat", 1))
    await churn_risk(churn, customer_id, score=70, level="high")

    await deliver(churn, customer_updated(customer_id, "95000.00"))  # assets recover: medium
    body = await churn_risk(churn, customer_id, score=50, level="medium")
    assert body["features"]["peak_assets"] == "100000.00"
    assert body["features"]["previous_assets"] == "70000.00"

    await deliver(churn, feedback(customer_id, "nps", 2), feedback(customer_id, "nps", 1))
    await churn_risk(churn, customer_id, score=70, level="high")

    warnings = await churn.published("churn.warning", customer_id=customer_id)
    assert [(w.payload["level"], w.payload["reasons"]) for w in warnings] == [
        ("medium", ["complaints"]),
        ("high", ["complaints", "aum_drop", "low_csat"]),
        ("high", ["complaints", "nps_detractor", "low_csat"]),
    ]


async def test_the_risk_carries_the_customers_lifetime_value_at_their_last_scoring(churn):
    customer_id = str(uuid.uuid4())
    await deliver(churn, customer_created(customer_id, "250000"), complaint(customer_id))
    body = await churn_risk(churn, customer_id)
    async with churn.engine.connect() as connection:
        probability = await connection.scalar(
            sa.select(CustomerFeatures.probability).where(CustomerFeatures.customer_id == customer_id)
        )
    expected = lifetime_value(250_000.0, probability, churn.spec.settings)
    assert expected > 0 and body["lifetime_value"] == pytest.approx(expected, abs=0.01)

    unvalued = str(uuid.uuid4())  # feedback only: no assets known yet
    await deliver(churn, feedback(unvalued, "csat", 2))
    assert (await churn_risk(churn, unvalued))["lifetime_value"] is None
