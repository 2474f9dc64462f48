"""OWASP API10:2023 Unsafe Consumption of APIs, here of ids other callers send: consent and
feedback take only customers they have learnt of from customer events, and refuse erased ones;
dates are ISO text, never numbers read as 1970 (issue 7, item 10)."""

import uuid
from datetime import UTC, datetime

import pytest

from events.contracts import CustomerErasedV1, new_event

FEEDBACK = {"survey": "csat", "score": 4, "channel": "web"}
COMPLAINT = {"category": "fees", "channel": "web", "description": "Charged twice."}
GRANT = {"recipient": "wealth-unit", "purpose": "marketing", "data_categories": ["basic"]}


def erased(customer_id: str):
    return new_event(
        "customer.erased", CustomerErasedV1(customer_id=customer_id, erased_at=datetime.now(UTC)), source="profile"
    )


@pytest.mark.parametrize(
    "component,path,body",
    [
        ("feedback", "/api/v1/feedback", FEEDBACK),
        ("feedback", "/api/v1/complaints", COMPLAINT),
        ("consent", "/api/v1/consents", GRANT),
    ],
)
async def test_unknown_and_erased_customers_are_refused(service, component, path, body):
    svc = await service(component)
    unknown, gone, alive = (str(uuid.uuid4()) for _ in range(3))
    await svc.know_customer(gone)
    await svc.know_customer(alive)
    await svc.deliver(erased(gone))
    answers = {}
    for customer_id in (unknown, gone, alive):
        async with svc.client("customer", customer_id, customer_scope=customer_id) as http:
            answers[customer_id] = await http.post(path, json={"customer_id": customer_id, **body})
    assert answers[unknown].status_code == answers[gone].status_code == 404
    assert answers[unknown].json()["detail"] == answers[gone].json()["detail"] == "No customer has this id."
    assert answers[alive].status_code == 201, answers[alive].text


async def test_a_staff_request_for_an_unknown_customer_is_refused(service):
    consent = await service("consent")
    async with consent.client("relationship_manager", "rm-1") as http:
        response = await http.post("/api/v1/consent-requests", json={"customer_id": str(uuid.uuid4()), **GRANT})
    assert response.status_code == 404


async def test_as_of_zero_is_not_1970(service):
    consent = await service("consent")
    async with consent.client("gateway", "gateway") as http:
        response = await http.post("/api/v1/decisions", json={"customer_id": "c-1", "as_of": 0, **GRANT})
    assert response.status_code == 422
    assert "as_of" in response.text


async def test_issued_on_zero_is_not_1970(service):
    profile = await service("profile")
    async with profile.client("admin", "admin-1") as http:
        response = await http.post(
            f"/api/v1/customers/{uuid.uuid4()}/documents",
            json={
                "type": "passport",
                "document_number": "E12345678",
                "issuer": "CN",
                "issued_on": 0,
                "expires_on": "2031-01-01",
            },
        )
    assert response.status_code == 422
    assert "issued_on" in response.text
