"""OWASP API5:2023 Broken Function Level Authorization: staff cannot create an active consent
alone (maker-checker), and customers cannot use staff-only fields (issue 7, item 3)."""

import uuid

import pytest


def body(customer_id: str, **changes) -> dict:
    return {
        "customer_id": customer_id,
        "recipient": "partner-insurer",
        "recipient_type": "external",
        "purpose": "third_party_sharing",
        "data_categories": ["basic"],
        "channel": "mobile",
        **changes,
    }


@pytest.fixture
async def consent(service):
    return await service("consent")


@pytest.mark.parametrize("role", ["relationship_manager", "compliance_officer", "admin", "service_agent"])
async def test_staff_cannot_grant_a_consent_directly(consent, role):
    customer_id = str(uuid.uuid4())
    async with consent.client(role, f"{role}-1") as http:
        response = await http.post("/api/v1/consents", json=body(customer_id))
    assert response.status_code == 403, response.text
    assert "consent-requests" in response.json()["detail"]
    assert await consent.published("consent.granted", customer_id=customer_id) == []


async def test_a_customer_grants_only_their_own_consent(consent):
    me, other = str(uuid.uuid4()), str(uuid.uuid4())
    await consent.know_customer(me)
    await consent.know_customer(other)
    async with consent.client("customer", me, customer_scope=me) as http:
        assert (await http.post("/api/v1/consents", json=body(other))).status_code == 403
        own = await http.post("/api/v1/consents", json=body(me))
    assert own.status_code == 201, own.text
    assert own.json()["status"] == "active"


@pytest.mark.parametrize(
    "changes", [{"legal_basis": "legal_obligation"}, {"channel": "branch"}, {"channel": "call_center"}]
)
async def test_a_customer_cannot_use_staff_only_fields(consent, changes):
    me = str(uuid.uuid4())
    async with consent.client("customer", me, customer_scope=me) as http:
        response = await http.post("/api/v1/consents", json=body(me, **changes))
    assert response.status_code == 403, response.text


async def test_staff_consent_becomes_active_only_when_a_second_person_approves(consent):
    customer_id = str(uuid.uuid4())
    await consent.know_customer(customer_id)
    async with consent.client("admin", "admin-1") as maker:
        requested = await maker.post("/api/v1/consent-requests", json=body(customer_id, channel="branch"))
    assert requested.status_code == 201, requested.text
    assert requested.json()["status"] == "requested"
    consent_id = requested.json()["id"]
    async with consent.client("compliance_officer", "admin-1") as same_person:
        assert (await same_person.post(f"/api/v1/consents/{consent_id}/approve")).status_code == 403
    async with consent.client("compliance_officer", "co-2") as checker:
        approved = await checker.post(f"/api/v1/consents/{consent_id}/approve")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["requested_by"], approved.json()["decided_by"]) == (
        "active",
        "admin-1",
        "co-2",
    )
