"""OWASP API8:2023 Security Misconfiguration (issue 7, items 8 and 10): request ids, security
headers, 405 with Allow, documents and metrics, the API viewer's assets."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine


async def test_customer_data_is_not_cached_and_carries_the_security_headers(system, client, gateway, onboard):
    customer_id = await onboard()
    response = await client.get(f"{gateway}/api/v1/customers/{customer_id}",
                                headers=system.headers("customer", customer_id))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "server" not in response.headers


async def test_a_method_the_path_lacks_answers_405_with_allow(system, client, gateway, onboard):
    customer_id = await onboard()
    response = await client.delete(f"{gateway}/api/v1/customers/{customer_id}", headers=system.headers("admin"))
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "PATCH"}


async def test_planted_request_ids_never_reach_the_audit_trail(system, client, gateway, onboard):
    customer_id = await onboard()
    planted = "Wang Fang 110101198005170000"
    response = await client.get(f"{gateway}/api/v1/customers/{customer_id}",
                                headers={**system.headers("admin"), "X-Request-Id": planted})
    assert response.status_code == 200
    assert response.headers["x-request-id"] != planted and uuid.UUID(response.headers["x-request-id"])
    engine = create_async_engine(system.database_urls["gateway"])
    try:
        async with engine.connect() as connection:
            found = (await connection.execute(sa.text("SELECT count(*) FROM audit_log WHERE request_id = :r"),
                                              {"r": planted})).scalar_one()
    finally:
        await engine.dispose()
    assert found == 0


async def test_the_api_document_needs_a_token_and_the_viewer_loads_nothing_from_outside(system, client, gateway):
    assert (await client.get(f"{gateway}/openapi.json")).status_code == 401
    assert (await client.get(f"{gateway}/openapi.json", headers=system.headers("admin"))).status_code == 200
    page = await client.get(f"{gateway}/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert (await client.get(f"{gateway}/docs-assets/swagger-ui-bundle.js")).status_code == 200


async def test_metrics_are_not_served_on_the_public_port(system, client, gateway):
    assert (await client.get(f"{gateway}/metrics")).status_code == 404
    assert (await client.get(system.metrics_url("gateway"))).status_code == 200


async def test_services_answer_no_anonymous_caller(system):
    import httpx

    async with httpx.AsyncClient(timeout=10) as anonymous:
        for component in ("profile", "consent", "feedback"):
            response = await anonymous.get(f"{system.url(component)}/api/v1/customers/c-1/consents"
                                           if component == "consent" else f"{system.url(component)}/openapi.json")
            assert response.status_code == 401, component


async def test_a_method_no_route_has_is_405_not_an_error(system, client, gateway):
    response = await client.head(f"{gateway}/api/v1/products", headers=system.headers("customer", "c-1"))
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}  # the methods the policy has for it
