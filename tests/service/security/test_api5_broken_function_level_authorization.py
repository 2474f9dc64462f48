"""OWASP API5:2023 Broken Function Level Authorization: staff cannot create an active consent
alone (maker-checker), customers cannot use staff-only fields (issue 7, item 3), and every
service refuses, route by route, the roles the access policy does not grant (services/kit/access.py)."""

import re
import uuid

import pytest

from gateway.policy import load_policy
from services.kit.access import ANONYMOUS_ROLE
from services.kit.settings import ComponentSettings
from tests.support import served_routes


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
    # Refused by the role before the grant's own rule (which points staff to /consent-requests).
    assert (
        response.json()["detail"] == f"The role '{role}' may not call POST /api/v1/consents; these roles may: customer."
    )
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


SERVICES = ["profile", "consent", "recommendation", "churn", "feedback"]
POLICY = load_policy(ComponentSettings().access_policy_file)
ROLES = [*POLICY.roles, ANONYMOUS_ROLE]
# Routes only the gateway calls, in its own name: documents, catalogues, a customer's manager.
GATEWAY_ONLY = {
    ("GET", "/openapi.json"),
    ("GET", "/api/v1/data-declarations"),
    ("GET", "/api/v1/customers/{customer_id}/relationship-manager"),
}


def _called_routes(app) -> list[tuple[str, str]]:
    """(method, template) of every route of the app that a caller's credential opens."""
    return sorted(key for key in served_routes(app) if key[1] not in ("/healthz", "/readyz"))


@pytest.mark.parametrize("component", SERVICES)
async def test_every_route_refuses_the_roles_the_policy_does_not_grant_it_and_writes_nothing(service, component):
    """Each service holds to the access policy on each of its routes, not only the gateway: a
    role the policy does not grant a route gets the 403 the gateway gives, before any work, and a
    granted one gets past that check (whatever its dummy ids and empty body then earn)."""
    svc = await service(component)
    grants = svc.app.state.route_roles.grants
    routes = _called_routes(svc.app)
    # Every route is some role's, but the gateway's own look-ups (found by the policy's paths,
    # through `upstream_path` where the gateway's path differs).
    assert {route for route in routes if not grants.get(route)} <= GATEWAY_ONLY
    before = await svc.published()
    refused_calls = granted_calls = 0
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "c-matrix-1", path)
        granted = grants.get((method, path), frozenset())
        for role in ROLES:
            async with svc.client(
                role, "c-matrix-1", customer_scope="c-matrix-1" if role == "customer" else None
            ) as http:
                answer = await http.request(method, url, json={} if method != "GET" else None)
            refusal = f"The role '{role}' may not call {method} {path}; "
            if role in granted:
                granted_calls += 1
                assert answer.status_code != 403 or not answer.json()["detail"].startswith(refusal), (method, path)
            else:
                refused_calls += 1
                assert answer.status_code == 403, (role, method, path, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.json()["detail"].startswith(refusal), answer.text
    assert refused_calls and granted_calls
    assert await svc.published() == before  # no refused call left an event (nor a granted one, on dummy ids)
