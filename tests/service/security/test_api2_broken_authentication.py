"""OWASP API2:2023 Broken Authentication, between the gateway and the services (issue 7, item 5):
a service answers only a credential the gateway signed; anonymous callers get nothing, and no
document or metrics are served to them."""

import pytest

from services.kit.identity import CREDENTIAL_HEADER, GATEWAY_ROLE, sign_credential

ROUTES = [
    ("profile", "GET", "/api/v1/customers"),
    ("profile", "GET", "/api/v1/customers/c-1"),  # the read, a HotRoute on the app's own route list
    ("profile", "GET", "/api/v1/audit-records"),
    ("consent", "GET", "/api/v1/customers/c-1/consents"),
    ("consent", "POST", "/api/v1/decisions"),
    ("churn", "GET", "/api/v1/customers/c-1/churn-risk"),
    ("recommendation", "GET", "/api/v1/products"),
    ("feedback", "POST", "/api/v1/feedback"),
]


@pytest.mark.parametrize("component,method,path", ROUTES)
async def test_anonymous_and_forged_calls_are_refused(service, component, method, path):
    svc = await service(component)
    async with svc.client() as anonymous:
        assert (await anonymous.request(method, path)).status_code == 401
        forged = {CREDENTIAL_HEADER: sign_credential("not-the-key" * 4, "admin", "mallory")}
        assert (await anonymous.request(method, path, headers=forged)).status_code == 401
        legacy = {"X-Actor-Id": "mallory", "X-Actor-Role": "admin"}  # the old trusted headers
        assert (await anonymous.request(method, path, headers=legacy)).status_code == 401


@pytest.mark.parametrize("component", ["profile", "consent", "feedback"])
async def test_documents_need_a_credential_and_metrics_are_not_on_the_api_port(service, component):
    svc = await service(component)
    async with svc.client() as anonymous, svc.client("admin") as admin, svc.client(GATEWAY_ROLE, "gateway") as gateway:
        assert (await anonymous.get("/openapi.json")).status_code == 401
        # The gateway merges the documents (gateway/openapi.py); no person reads a service's own.
        assert (await admin.get("/openapi.json")).status_code == 403
        assert (await gateway.get("/openapi.json")).status_code == 200
        for path in ("/docs", "/redoc", "/metrics"):
            assert (await admin.get(path)).status_code == 404, path
        assert (await anonymous.get("/healthz")).status_code == 200  # probes stay open


async def test_the_actor_recorded_is_the_one_the_credential_names(service):
    consent = await service("consent")
    customer = "c-" + "1" * 8
    await consent.know_customer(customer)
    body = {"customer_id": customer, "recipient": "wealth-unit", "purpose": "marketing", "data_categories": ["basic"]}
    async with consent.client("customer", customer, customer_scope=customer) as http:
        granted = await http.post("/api/v1/consents", json=body)
    assert granted.status_code == 201, granted.text
    assert granted.json()["granted_by"] == customer
