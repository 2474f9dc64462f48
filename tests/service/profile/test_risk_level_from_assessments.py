"""Profile no longer takes a risk level from anyone; it shows the one risk assessments set."""

import uuid
from datetime import UTC, datetime, timedelta

from events.contracts import RiskAssessmentCompletedV1, new_event
from tests.support import new_customer


def completed(customer_id: str, level: str, at: datetime) -> object:
    return new_event(
        "risk_assessment.completed",
        RiskAssessmentCompletedV1(
            customer_id=customer_id,
            assessment_id=str(uuid.uuid4()),
            risk_level=level,
            lowest_category=False,
            questionnaire_version="2026.1",
            recorded_by_role="customer",
            completed_at=at,
            valid_until=at + timedelta(days=365),
        ),
        source="recommendation",
    )


async def test_nobody_sets_risk_level_and_the_refusal_says_where_it_comes_from(service):
    profile = await service("profile")
    async with profile.client("relationship_manager", "rm-1") as http:
        refused_create = await http.post("/api/v1/customers", json=new_customer(risk_level="C5"))
        assert refused_create.status_code == 422
        created = await http.post("/api/v1/customers", json=new_customer())
        assert created.status_code == 201, created.text
        customer_id = created.json()["id"]
        assert created.json()["risk_level"] is None
    # The roles the access policy lets write profile fields are told where the level comes from;
    # the others may not set it at all (the policy's write rules, services/kit/access.py).
    for role, subject in (("relationship_manager", "rm-1"), ("admin", "admin-1")):
        async with profile.client(role, subject) as http:
            refused = await http.patch(f"/api/v1/customers/{customer_id}", json={"risk_level": "C5"})
        assert refused.status_code == 422, role
        [error] = refused.json()["errors"]
        assert error["field"] == "risk_level"
        assert "comes from a risk assessment" in error["message"]
    for role, subject in (("customer", customer_id), ("service_agent", "sa-1")):
        async with profile.client(role, subject, customer_scope=customer_id if role == "customer" else None) as http:
            refused = await http.patch(f"/api/v1/customers/{customer_id}", json={"risk_level": "C5"})
        assert refused.status_code == 403, role
        assert refused.json()["detail"] == f"The role '{role}' may not set: risk_level."
    for event in await profile.published("customer.created", customer_id=customer_id):
        assert event.payload["risk_level"] is None and event.payload["age_band"] == "40_64"


async def test_the_profile_shows_the_level_of_the_latest_assessment(service):
    profile = await service("profile")
    async with profile.client("relationship_manager", "rm-1") as http:
        customer_id = (await http.post("/api/v1/customers", json=new_customer())).json()["id"]
    now = datetime.now(UTC)
    await profile.deliver(completed(customer_id, "C4", now))
    await profile.deliver(completed(customer_id, "C2", now - timedelta(days=1)))  # older, arriving late
    async with profile.client("relationship_manager", "rm-1") as http:
        body = (await http.get(f"/api/v1/customers/{customer_id}")).json()
    assert body["risk_level"] == "C4"
    assert body["risk_level_valid_until"].startswith(str((now + timedelta(days=365)).date()))
