"""Every role against every route through the gateway: allowed, forbidden, scoped, masked, audited.

The expectations are written out here, independently of gateway/policy.yaml, so a wrong
policy fails these tests.
"""

import json
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support import new_customer, once_customer_known

STAFF_AND_CUSTOMER = [
    "customer",
    "relationship_manager",
    "service_agent",
    "compliance_officer",
    "marketing_analyst",
    "admin",
]
ROLES = [*STAFF_AND_CUSTOMER, "partner"]
PARTNER = "user-partner"  # the harness's default subject for the role: the recipient id
REASON = {"X-Access-Reason": "test: periodic review"}
# The relationship manager every test here acts as (the harness's default subject for the
# role); customers they create are assigned to them.
MANAGER = "user-relationship_manager"

# route -> roles allowed (everyone else gets 403)
ALLOWED = {
    "create_customer": {"relationship_manager", "admin"},
    "read_customer": set(STAFF_AND_CUSTOMER),
    "update_customer": {"customer", "relationship_manager", "service_agent", "admin"},
    # Only the customer grants directly; staff request and a second person approves.
    "grant_consent": {"customer"},
    "revoke_consent": {"customer", "relationship_manager", "compliance_officer", "admin"},
    "list_consents": {"customer", "relationship_manager", "service_agent", "compliance_officer", "admin"},
    "list_products": set(STAFF_AND_CUSTOMER),
    "data_declarations": set(STAFF_AND_CUSTOMER),
    "partner_view": {"partner"},
    "search_customers": {"relationship_manager", "service_agent", "compliance_officer", "admin"},
    "recommendations": {"customer", "relationship_manager", "marketing_analyst", "admin"},
    "feedback": {"customer", "relationship_manager", "service_agent", "admin"},
    "complaint": {"customer", "relationship_manager", "service_agent", "compliance_officer", "admin"},
    "churn_risk": {"relationship_manager", "compliance_officer", "marketing_analyst", "admin"},
    "list_customers": {"relationship_manager", "compliance_officer", "admin"},
    "import_customers": {"admin"},
    "move_stage": {"relationship_manager", "admin"},
    "stage_history": {"relationship_manager", "service_agent", "compliance_officer", "admin"},
    "assign_manager": {"admin"},
    "erase_customer": {"compliance_officer", "admin"},
    "consent": {"customer", "relationship_manager", "service_agent", "compliance_officer", "admin"},
    "audit_records": {"compliance_officer"},
    "consent_audit_records": {"compliance_officer"},
    "gateway_audit_records": {"compliance_officer"},
    "place_legal_hold": {"compliance_officer"},
    "release_legal_hold": {"compliance_officer"},
    "read_household": {"customer", "relationship_manager", "service_agent", "compliance_officer", "admin"},
    "join_household": {"relationship_manager", "admin"},
    "leave_household": {"relationship_manager", "admin"},
    "tier_history": {"customer", "relationship_manager", "service_agent", "compliance_officer", "admin"},
    "service_reviews": {"relationship_manager", "compliance_officer", "admin"},
}
# Routes whose answer holds customer records: the matrix checks what each allowed role receives
# of them (each personal field in clear or masked, as CLEAR_FOR says), not only that it got in.
RECORD_ROUTES = {"create_customer", "read_customer", "update_customer", "search_customers"}
# customer id -> the personal fields as created (and updated), to compare answers with.
CLEAR_VALUES: dict[str, dict] = {}
# Routes that change the customer for good get a customer of their own for each call.
DESTRUCTIVE = {
    "erase_customer",
    "move_stage",
    "assign_manager",
    "place_legal_hold",
    "release_legal_hold",
    "join_household",
    "leave_household",
}


async def consent_to_everyone(http, system, customer_id: str) -> None:
    """The customer lets marketing and the test partner use their data, as a customer would in the app."""
    for recipient, purpose, categories in (
        ("bank-marketing", "marketing", ["basic"]),
        (PARTNER, "third_party_sharing", ["risk", "business"]),
    ):
        response = await once_customer_known(
            lambda: http.post(
                "/api/v1/consents",
                json={
                    "customer_id": customer_id,
                    "recipient": recipient,
                    "purpose": purpose,
                    "data_categories": categories,
                },
                headers=system.headers("customer", customer_id),
            )
        )
        assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
async def customer_id(system):
    import httpx

    async with httpx.AsyncClient(base_url=system.url("gateway"), timeout=30) as http:
        body = new_customer()
        response = await http.post("/api/v1/customers", json=body, headers=system.headers("relationship_manager"))
        assert response.status_code == 201, response.text
        CLEAR_VALUES[response.json()["id"]] = body
        await consent_to_everyone(http, system, response.json()["id"])
        return response.json()["id"]


async def _new_customer(client, system) -> str:
    body = new_customer()
    response = await client.post(
        system.url("gateway") + "/api/v1/customers", json=body, headers=system.headers("relationship_manager")
    )
    assert response.status_code == 201, response.text
    CLEAR_VALUES[response.json()["id"]] = body
    return response.json()["id"]


async def _grant(client, system, customer_id: str) -> str:
    response = await once_customer_known(
        lambda: client.post(
            system.url("gateway") + "/api/v1/consents",
            json={
                "customer_id": customer_id,
                "recipient": "wealth-unit",
                "purpose": "marketing",
                "data_categories": ["basic"],
            },
            headers=system.headers("customer", customer_id),
        )
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _import_file() -> str:
    row = new_customer(external_ref=f"EXT-{uuid.uuid4().hex[:12]}")
    return json.dumps(row) + "\n"


def _request(name: str, customer_id: str, consent_id: str) -> tuple[str, str, dict | str | None]:
    """Method, path and body (JSON, or the text of an import file) of each route."""
    requests: dict[str, tuple[str, str, dict | str | None]] = {
        "create_customer": ("POST", "/api/v1/customers", new_customer()),
        "read_customer": ("GET", f"/api/v1/customers/{customer_id}", None),
        "update_customer": ("PATCH", f"/api/v1/customers/{customer_id}", {"address": "9 Financial Street, Beijing"}),
        "grant_consent": (
            "POST",
            "/api/v1/consents",
            {"customer_id": customer_id, "recipient": "insurer-x", "purpose": "analytics", "data_categories": ["risk"]},
        ),
        "revoke_consent": ("POST", f"/api/v1/consents/{consent_id}/revoke", None),
        "list_consents": ("GET", f"/api/v1/customers/{customer_id}/consents", None),
        "list_products": ("GET", "/api/v1/products", None),
        "data_declarations": ("GET", "/api/v1/data-declarations", None),
        "partner_view": ("GET", f"/api/v1/partner/customers/{customer_id}?purpose=third_party_sharing", None),
        "search_customers": ("POST", "/api/v1/customers/search", {"phone": CLEAR_VALUES[customer_id]["phone"]}),
        "recommendations": ("GET", f"/api/v1/customers/{customer_id}/recommendations", None),
        "feedback": (
            "POST",
            "/api/v1/feedback",
            {"customer_id": customer_id, "survey": "csat", "score": 4, "channel": "web"},
        ),
        "complaint": (
            "POST",
            "/api/v1/complaints",
            {"customer_id": customer_id, "category": "fees", "channel": "branch", "description": "Fee charged twice."},
        ),
        "churn_risk": ("GET", f"/api/v1/customers/{customer_id}/churn-risk", None),
        "list_customers": ("GET", "/api/v1/customers", None),
        "import_customers": ("POST", "/api/v1/customers/imports", _import_file()),
        "move_stage": ("POST", f"/api/v1/customers/{customer_id}/lifecycle", {"stage": "onboarding", "reason": "kyc"}),
        "stage_history": ("GET", f"/api/v1/customers/{customer_id}/lifecycle", None),
        "assign_manager": (
            "PUT",
            f"/api/v1/customers/{customer_id}/relationship-manager",
            {"relationship_manager_id": MANAGER},
        ),
        "erase_customer": ("POST", f"/api/v1/customers/{customer_id}/erasure", {"reason": "customer request"}),
        "consent": ("GET", f"/api/v1/consents/{consent_id}", None),
        "audit_records": ("GET", "/api/v1/audit-records", None),
        "consent_audit_records": ("GET", f"/api/v1/audit-records/consent?customer_id={customer_id}", None),
        "gateway_audit_records": ("GET", f"/api/v1/audit-records/gateway?customer_id={customer_id}", None),
        "place_legal_hold": ("PUT", f"/api/v1/customers/{customer_id}/legal-hold", {"reference": "CASE-1"}),
        "release_legal_hold": ("DELETE", f"/api/v1/customers/{customer_id}/legal-hold", None),
        "read_household": ("GET", f"/api/v1/customers/{customer_id}/household", None),
        "join_household": ("POST", f"/api/v1/customers/{customer_id}/household", {"members": [customer_id]}),
        "leave_household": ("DELETE", f"/api/v1/customers/{customer_id}/household", None),
        "tier_history": ("GET", f"/api/v1/customers/{customer_id}/tier-history", None),
        "service_reviews": ("GET", f"/api/v1/customers/{customer_id}/service-reviews", None),
    }
    return requests[name]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(ALLOWED))
async def test_role_against_route(system, client, customer_id, route, role):
    if route in DESTRUCTIVE:
        customer_id = await _new_customer(client, system)
    consent_id = await _grant(client, system, customer_id) if route in ("revoke_consent", "consent") else "none"
    method, path, body = _request(route, customer_id, consent_id)
    subject = customer_id if role == "customer" else None
    headers = system.headers(role, subject, **REASON)
    if isinstance(body, str):
        response = await client.request(
            method,
            system.url("gateway") + path,
            content=body,
            headers={**headers, "Content-Type": "application/x-ndjson"},
        )
    else:
        response = await client.request(method, system.url("gateway") + path, json=body, headers=headers)
    if role in ALLOWED[route]:
        # Allowed through the gateway; the service decides the rest (e.g. 404 while a read model
        # has not caught up), but never an auth refusal and never a server error.
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
        if route in RECORD_ROUTES:
            assert response.status_code in (200, 201), response.text
            if route == "create_customer":
                assert isinstance(body, dict)
                CLEAR_VALUES[response.json()["id"]] = body
            elif route == "update_customer":
                assert isinstance(body, dict)
                CLEAR_VALUES[customer_id] = {**CLEAR_VALUES[customer_id], **body}
            assert _fields_as_the_role_may_see_them(response.json(), role) > 0
    else:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert role in response.json()["detail"]


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/api/v1/customers/{other}", None),
        ("PATCH", "/api/v1/customers/{other}", {"address": "somewhere else"}),
        ("GET", "/api/v1/customers/{other}/consents", None),
        ("GET", "/api/v1/customers/{other}/recommendations", None),
        ("GET", "/api/v1/customers/{other}/household", None),
        ("GET", "/api/v1/customers/{other}/tier-history", None),
        ("POST", "/api/v1/feedback", {"customer_id": "{other}", "survey": "nps", "score": 9, "channel": "web"}),
        (
            "POST",
            "/api/v1/complaints",
            {"customer_id": "{other}", "category": "fees", "channel": "web", "description": "x"},
        ),
        (
            "POST",
            "/api/v1/consents",
            {"customer_id": "{other}", "recipient": "r", "purpose": "marketing", "data_categories": ["basic"]},
        ),
    ],
)
async def test_customer_sees_only_their_own_id(system, client, customer_id, method, path, body):
    other = customer_id  # the record exists, but the caller is a different customer
    me = str(uuid.uuid4())

    def fill(value):
        return value.replace("{other}", other) if isinstance(value, str) else value

    response = await client.request(
        method,
        system.url("gateway") + fill(path),
        json={k: fill(v) for k, v in body.items()} if body else None,
        headers=system.headers("customer", me),
    )
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_customer_cannot_revoke_someone_elses_consent(system, client, customer_id):
    consent_id = await _grant(client, system, customer_id)
    response = await client.post(
        f"{system.url('gateway')}/api/v1/consents/{consent_id}/revoke",
        headers=system.headers("customer", str(uuid.uuid4())),
    )
    assert response.status_code == 404, response.text
    own = await client.post(
        f"{system.url('gateway')}/api/v1/consents/{consent_id}/revoke", headers=system.headers("customer", customer_id)
    )
    assert own.status_code == 200, own.text


KNOWN = {
    "name": "Wang Fang",
    "national_id": "110101198506151234",
    "phone": "13812345678",
    "email": "wang.fang@example.com",
    "birth_date": "1985-06-15",
    "address": "8 Jianguo Road, Beijing",
}
MASKED = {
    "name": "W********",
    "national_id": "110***********1234",
    "phone": "138****5678",
    "email": "w********@example.com",
    "birth_date": None,  # a masked date is null: a partial one would not be a date
    "address": "8 Jian*****************",
}
CLEAR_FOR = {
    "customer": set(KNOWN),
    "relationship_manager": {"name", "phone", "email", "address", "birth_date"},
    "service_agent": set(),
    "compliance_officer": set(KNOWN),
    "marketing_analyst": set(),
    "admin": set(),
}


def _fields_as_the_role_may_see_them(answer, role: str) -> int:
    """Checks every personal field of every known customer record in `answer`: in clear when
    CLEAR_FOR says the role sees it so, masked otherwise. Returns how many records it checked."""
    records = answer if isinstance(answer, list) else [answer]
    checked = 0
    for record in records:
        clear = CLEAR_VALUES.get(record.get("id"))
        if clear is None:
            continue
        checked += 1
        for field in KNOWN:
            if field in CLEAR_FOR[role]:
                assert record[field] == clear[field], (role, field)
            elif field == "birth_date":
                assert record[field] is None, (role, field)
            else:
                assert record[field] != clear[field] and "*" in record[field], (role, field)
    return checked


@pytest.fixture(scope="module")
async def known_customer(system):
    import httpx

    async with httpx.AsyncClient(base_url=system.url("gateway"), timeout=30) as http:
        body = new_customer(**KNOWN)
        response = await http.post(
            "/api/v1/customers", json=body, headers=system.headers("relationship_manager", MANAGER)
        )
        assert response.status_code == 201, response.text
        await consent_to_everyone(http, system, response.json()["id"])
        return response.json()["id"]


@pytest.mark.parametrize("role", STAFF_AND_CUSTOMER)
async def test_masking_per_role(system, client, known_customer, role):
    subject = known_customer if role == "customer" else None
    response = await client.get(
        f"{system.url('gateway')}/api/v1/customers/{known_customer}", headers=system.headers(role, subject, **REASON)
    )
    assert response.status_code == 200, response.text
    record = response.json()
    for field, clear in KNOWN.items():
        expected = clear if field in CLEAR_FOR[role] else MASKED[field]
        assert record[field] == expected, (role, field)


async def _audit_rows(system, component: str, request_id: str) -> list:
    """The rows `component`'s audit trail holds for one request."""
    engine = create_async_engine(system.database_urls[component])
    try:
        async with engine.connect() as connection:
            query = sa.text("SELECT * FROM audit_log WHERE request_id = :r")
            return list((await connection.execute(query, {"r": request_id})).mappings())
    finally:
        await engine.dispose()


async def test_compliance_officer_must_give_a_reason_and_it_is_audited(system, client, known_customer):
    url = f"{system.url('gateway')}/api/v1/customers/{known_customer}"
    refused = await client.get(url, headers=system.headers("compliance_officer", "officer-7"))
    assert refused.status_code == 400
    assert "X-Access-Reason" in refused.json()["detail"]
    # Refused by the gateway: the gateway records the attempt.
    (attempt,) = await _audit_rows(system, "gateway", refused.headers["x-request-id"])
    assert (attempt["actor"], attempt["outcome"], attempt["fields"]) == ("officer-7", "400", "")

    reason = f"AML case {uuid.uuid4().hex[:8]}"
    read = await client.get(
        url, headers=system.headers("compliance_officer", "officer-7", **{"X-Access-Reason": reason})
    )
    assert read.status_code == 200
    request_id = read.headers["x-request-id"]

    # Read and recorded by profile in one statement; the gateway records no second row.
    (row,) = await _audit_rows(system, "profile", request_id)
    assert await _audit_rows(system, "gateway", request_id) == []
    assert row["actor"] == "officer-7"
    assert row["role"] == "compliance_officer"
    assert row["customer_id"] == known_customer
    assert row["reason"] == reason
    assert set(KNOWN) <= set(row["fields"].split(","))


async def test_every_customer_data_call_is_audited_with_fields_in_clear(system, client, known_customer):
    """Once, each: a read released by profile in its trail, with the personal fields the caller
    receives in clear and none the gateway masks; a read refused in the gateway's."""
    url = f"{system.url('gateway')}/api/v1/customers/{known_customer}"
    for role, subject in (("service_agent", "agent-1"), ("relationship_manager", MANAGER)):
        response = await client.get(url, headers=system.headers(role, subject))
        assert response.status_code == 200
        (row,) = await _audit_rows(system, "profile", response.headers["x-request-id"])
        assert await _audit_rows(system, "gateway", response.headers["x-request-id"]) == []
        assert set(row["fields"].split(",")) & set(KNOWN) == CLEAR_FOR[role]
        assert row["actor"] == subject

    theirs = await client.get(url, headers=system.headers("relationship_manager", "another-manager"))
    assert theirs.status_code == 404
    assert "x-access-recorded" not in theirs.headers  # the service's signal stays inside
    assert await _audit_rows(system, "profile", theirs.headers["x-request-id"]) == []
    (row,) = await _audit_rows(system, "gateway", theirs.headers["x-request-id"])
    assert (row["actor"], row["customer_id"], row["outcome"], row["fields"]) == (
        "another-manager",
        known_customer,
        "404",
        "",
    )


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"],
)
async def test_unauthenticated_calls_are_refused(system, client, known_customer, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get(f"{system.url('gateway')}/api/v1/customers/{known_customer}", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_token_from_another_key_is_refused(system, client, known_customer, tmp_path):
    from gateway.auth import ensure_dev_keypair, sign_token

    ensure_dev_keypair(tmp_path / "other.pem", tmp_path / "other.pub")
    forged = sign_token(tmp_path / "other.pem", role="admin", subject="mallory")
    response = await client.get(
        f"{system.url('gateway')}/api/v1/customers/{known_customer}", headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401


async def test_request_id_passes_through_and_errors_stay_problem_json(system, client):
    request_id = str(uuid.uuid4())
    response = await client.post(
        f"{system.url('gateway')}/api/v1/customers",
        json={"name": "X", "risk_level": "C9"},
        headers={**system.headers("relationship_manager"), "X-Request-ID": request_id},
    )
    assert response.status_code == 422
    assert response.headers["x-request-id"] == request_id  # a UUID passes; other text is replaced
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"risk_level", "national_id"} <= fields


async def test_merged_openapi_documents_every_route(system, client):
    document = (await client.get(f"{system.url('gateway')}/openapi.json", headers=system.headers("admin"))).json()
    from gateway.policy import load_policy
    from gateway.settings import GatewaySettings

    for route in load_policy(GatewaySettings().access_policy_file).routes:
        assert route.method.lower() in document["paths"].get(route.path, {}), (route.method, route.path)
    assert "bearer" in document["components"]["securitySchemes"]


async def test_unavailable_service_answers_502(system, client):
    system.stop_component("churn")
    try:
        response = await client.get(
            f"{system.url('gateway')}/api/v1/customers/{uuid.uuid4()}/churn-risk", headers=system.headers("admin")
        )
        assert response.status_code == 502
        assert response.headers["content-type"] == "application/problem+json"
        assert "churn" in response.json()["detail"]
    finally:
        system.start_component("churn")
        system.wait_ready("churn")


async def test_a_manager_sees_only_their_own_customers(system, client, known_customer):
    url = f"{system.url('gateway')}/api/v1/customers/{known_customer}"
    mine = await client.get(url, headers=system.headers("relationship_manager", MANAGER))
    assert mine.status_code == 200
    theirs = await client.get(url, headers=system.headers("relationship_manager", "another-manager"))
    assert theirs.status_code == 404
    listed = await client.get(
        f"{system.url('gateway')}/api/v1/customers", headers=system.headers("relationship_manager", "another-manager")
    )
    assert known_customer not in {c["id"] for c in listed.json()["items"]}


async def test_a_manager_reaches_other_services_only_for_their_customers(system, client, customer_id):
    url = f"{system.url('gateway')}/api/v1/customers/{customer_id}/consents"
    assert (await client.get(url, headers=system.headers("relationship_manager", MANAGER))).status_code == 200
    assert (await client.get(url, headers=system.headers("relationship_manager", "another-manager"))).status_code == 404


async def test_no_data_leaves_when_the_access_cannot_be_audited(system, client, known_customer):
    engine = create_async_engine(system.database_urls["gateway"])
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text("ALTER TABLE audit_log RENAME TO audit_log_away"))
        try:
            # A route whose access the gateway records itself (profile records single reads:
            # tests/service/profile/test_audit_chain.py).
            response = await client.get(
                f"{system.url('gateway')}/api/v1/customers", headers=system.headers("compliance_officer", **REASON)
            )
        finally:
            async with engine.begin() as connection:
                await connection.execute(sa.text("ALTER TABLE audit_log_away RENAME TO audit_log"))
    finally:
        await engine.dispose()
    assert response.status_code == 503
    assert response.json()["title"] == "Audit unavailable"
    assert KNOWN["name"] not in response.text and "national_id" not in response.text
