"""Consent KPIs against hand-computed values, each test in its own past window."""

import uuid
from datetime import UTC, datetime

from services.consent.kpis import decisions
from services.kit import clock

WINDOW = {"from": "2013-06-01T00:00:00Z", "to": "2013-07-01T00:00:00Z", "bucket": "month"}


def _grant_body(customer_id: str, purpose: str, expires_at: str) -> dict:
    return {
        "customer_id": customer_id,
        "recipient": "kpi-test-recipient",
        "purpose": purpose,
        "data_categories": ["basic"],
        "expires_at": expires_at,
        "channel": "mobile",
    }


async def test_consents_and_decisions_match_hand_computed_values(service):
    consent = await service("consent")
    customers = [f"cust-{uuid.uuid4()}" for _ in range(3)]
    for customer_id in customers:
        await consent.know_customer(customer_id)
    async with consent.client("admin") as admin:
        with clock.frozen_at(datetime(2013, 6, 3, tzinfo=UTC)):
            granted = []
            for customer_id, purpose, expires in [
                (customers[0], "marketing", "2014-06-03T00:00:00Z"),  # active at the window's end
                (customers[1], "marketing", "2013-07-15T00:00:00Z"),  # active, expiring within 30 days
                (customers[2], "analytics", "2014-06-03T00:00:00Z"),  # revoked on 10 June
            ]:
                async with consent.client("customer", customer_id, customer_scope=customer_id) as own:
                    answer = await own.post("/api/v1/consents", json=_grant_body(customer_id, purpose, expires))
                    assert answer.status_code == 201, answer.text
                    granted.append(answer.json()["id"])
        with clock.frozen_at(datetime(2013, 6, 10, tzinfo=UTC)):
            async with consent.client("customer", customers[2], customer_scope=customers[2]) as own:
                assert (await own.post(f"/api/v1/consents/{granted[2]}/revoke")).status_code == 200
            for customer_id, purpose in [
                (customers[0], "marketing"),
                (customers[1], "marketing"),
                (customers[2], "analytics"),
                (customers[0], "credit_assessment"),
            ]:
                answer = await admin.post(
                    "/api/v1/decisions",
                    json={
                        "customer_id": customer_id,
                        "recipient": "kpi-test-recipient",
                        "purpose": purpose,
                        "data_categories": ["basic"],
                    },
                )
                assert answer.status_code == 200, answer.text
        await decisions.flush(consent.sessions)

        answer = await admin.get("/api/v1/kpis/consent", params={**WINDOW, "by": "purpose"})
        assert answer.status_code == 200, answer.text
        kpis = {k["name"]: k for k in answer.json()["kpis"]}

    assert kpis["active_consents"]["value"] == 2
    assert kpis["expiring_consents"]["value"] == 1
    assert kpis["granted_consents"]["value"] == 3
    assert {g["key"]: g["value"] for g in kpis["granted_consents"]["breakdown"]} == {"marketing": 2, "analytics": 1}
    assert kpis["revoked_consents"]["value"] == 1
    assert kpis["decisions_permitted"]["value"] == 2
    assert kpis["decisions_denied"]["value"] == 2  # a revoked consent and a purpose never consented
    assert [(p["bucket"], p["value"]) for p in kpis["decisions_denied"]["series"]] == [("2013-06-01", 2.0)]
