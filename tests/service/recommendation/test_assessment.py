"""Risk assessments in process: scoring, who may record them, events, re-assessment requests."""

from datetime import timedelta

from services.kit import clock
from tests.service.recommendation.helpers import (
    C4_ANSWERS,
    LOWEST_ANSWERS,
    assess,
    customer_changed,
    known_customer,
)


async def test_questionnaire_shows_questions_and_answers_without_points(service):
    svc = await service("recommendation")
    async with svc.client("customer", "c-1") as http:
        answer = await http.get("/api/v1/risk-questionnaire")
    assert answer.status_code == 200
    body = answer.json()
    assert body["version"] == "2026.1" and body["validity_days"] == 365
    assert {q["id"] for q in body["questions"]} >= {"loss_tolerance", "horizon", "goal", "legal_capacity"}
    assert "points" not in answer.text


async def test_a_customer_answers_and_gets_a_level_and_an_expiry(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc)
    answer = await assess(svc, customer_id, C4_ANSWERS)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["risk_level"], body["points"], body["lowest_category"]) == ("C4", 33, False)
    assert body["recorded_by_role"] == "customer" and body["valid"] is True
    assert body["goals"] == ["growth"] and body["horizon_years"] == 30
    [event] = await svc.published("risk_assessment.completed", customer_id=customer_id)
    assert event.payload["risk_level"] == "C4" and event.payload["assessment_id"] == body["id"]
    assert event.payload["valid_until"].startswith(body["valid_until"][:19])
    assert set(event.payload) == {
        "customer_id",
        "assessment_id",
        "risk_level",
        "lowest_category",
        "questionnaire_version",
        "recorded_by_role",
        "completed_at",
        "valid_until",
    }


async def test_a_manager_records_it_for_the_customer_and_it_says_so(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc)
    answer = await assess(svc, customer_id, LOWEST_ANSWERS, role="relationship_manager", subject="rm-7")
    assert answer.status_code == 201, answer.text
    assert answer.json()["recorded_by_role"] == "relationship_manager"
    assert (answer.json()["risk_level"], answer.json()["lowest_category"]) == ("C1", True)


async def test_another_customer_cannot_answer_for_someone_and_other_roles_may_not_write(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc)
    other = await assess(svc, customer_id, C4_ANSWERS, role="customer", subject="someone-else")
    assert other.status_code == 404
    for role in ("service_agent", "marketing_analyst", "product_manager"):
        refused = await assess(svc, customer_id, C4_ANSWERS, role=role, subject="x-1")
        assert refused.status_code == 403, role
    assert await svc.published("risk_assessment.completed", customer_id=customer_id) == []


async def test_incomplete_or_foreign_answers_are_refused_and_nothing_is_stored(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc)
    missing = await assess(svc, customer_id, {k: v for k, v in C4_ANSWERS.items() if k != "goal"})
    assert missing.status_code == 422 and "unanswered: goal" in missing.json()["detail"]
    wrong = await assess(svc, customer_id, {**C4_ANSWERS, "goal": "lottery"})
    assert wrong.status_code == 422 and "goal" in wrong.json()["detail"]
    async with svc.client("customer", customer_id) as http:
        old = await http.post(
            f"/api/v1/customers/{customer_id}/risk-assessments",
            json={"questionnaire_version": "2019.1", "answers": C4_ANSWERS},
        )
        assert old.status_code == 422 and "2026.1" in old.json()["detail"]
        assert (await http.get(f"/api/v1/customers/{customer_id}/risk-assessments/current")).status_code == 404


async def test_an_expired_assessment_counts_as_none(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc)
    await assess(svc, customer_id, C4_ANSWERS)
    with clock.shifted(timedelta(days=366)):
        async with svc.client("customer", customer_id) as http:
            current = (await http.get(f"/api/v1/customers/{customer_id}/risk-assessments/current")).json()
            recommended = (await http.get(f"/api/v1/customers/{customer_id}/recommendations?limit=50")).json()
    assert current["valid"] is False
    assert recommended["risk_level"] is None
    assert {i["product"]["risk_level"] for i in recommended["items"]} <= {"R1", "R2"}
    assert any("ASSESSED" in e["rule_ids"] for e in recommended["excluded"])


async def test_a_new_age_band_or_assets_band_requests_a_reassessment_with_a_due_date(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="250000.00", age_band="40_64")
    await assess(svc, customer_id, C4_ANSWERS)
    await customer_changed(svc, customer_id, assets="260000.00", age_band="40_64", fields=["assets_under_management"])
    assert await svc.published("risk_assessment.reassessment_requested", customer_id=customer_id) == []

    await customer_changed(svc, customer_id, assets="260000.00", age_band="65_79", fields=["birth_date"])
    [event] = await svc.published("risk_assessment.reassessment_requested", customer_id=customer_id)
    assert event.payload["reason"] == "age_band_changed" and event.payload["due_on"]
    async with svc.client("customer", customer_id) as http:
        current = (await http.get(f"/api/v1/customers/{customer_id}/risk-assessments/current")).json()
    assert current["reassessment_due_on"] == event.payload["due_on"]
    assert current["valid_until"][:10] <= event.payload["due_on"]

    await customer_changed(svc, customer_id, assets="5000000.00", age_band="65_79", fields=["assets_under_management"])
    assert len(await svc.published("risk_assessment.reassessment_requested", customer_id=customer_id)) == 1
