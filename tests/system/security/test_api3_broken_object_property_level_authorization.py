"""OWASP API3:2023 Broken Object Property Level Authorization (issue 7, items 3, 4 and 9):
mass assignment through the gateway, and masking scoped to the routes and fields it belongs to."""

import pytest


@pytest.mark.parametrize("field,value", [("assets_under_management", "90000000.00"), ("product_holdings", 12)])
async def test_a_customer_cannot_raise_their_own_wealth_or_holdings(system, client, gateway, onboard, field, value):
    customer_id = await onboard()
    url = f"{gateway}/api/v1/customers/{customer_id}"
    before = (await client.get(url, headers=system.headers("customer", customer_id))).json()

    refused = await client.patch(url, json={field: value}, headers=system.headers("customer", customer_id))
    agent = await client.patch(url, json={field: value}, headers=system.headers("service_agent", "agent-1"))

    assert (refused.status_code, agent.status_code) == (403, 403), refused.text
    assert field in refused.json()["detail"]
    after = (await client.get(url, headers=system.headers("customer", customer_id))).json()
    assert after[field] == before[field] and after["version"] == before["version"]


async def test_a_customer_still_updates_their_contact_details(system, client, gateway, onboard):
    customer_id = await onboard()
    response = await client.patch(f"{gateway}/api/v1/customers/{customer_id}", json={"address": "1 New Road"},
                                  headers=system.headers("customer", customer_id))
    assert response.status_code == 200, response.text


async def test_a_customer_cannot_choose_the_legal_basis_of_their_consent(system, client, gateway, onboard):
    customer_id = await onboard()
    response = await client.post(  # refused at the gateway, before the consent service knows the customer
        f"{gateway}/api/v1/consents", headers=system.headers("customer", customer_id),
        json={"customer_id": customer_id, "recipient": "bank-marketing", "purpose": "marketing",
              "data_categories": ["basic"], "legal_basis": "legal_obligation"},
    )
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("role", ["service_agent", "marketing_analyst", "admin"])
async def test_product_names_are_not_masked(system, client, gateway, role):
    seen_by_customer = await client.get(f"{gateway}/api/v1/products", headers=system.headers("customer", "c-1"))
    seen_by_role = await client.get(f"{gateway}/api/v1/products", headers=system.headers(role))
    assert seen_by_role.status_code == 200, seen_by_role.text
    assert seen_by_role.json() == seen_by_customer.json()
    assert all("*" not in product["title"] for product in seen_by_role.json()["items"])


async def test_a_masked_birth_date_is_null_not_a_broken_date(system, client, gateway, onboard):
    customer_id = await onboard()
    record = (await client.get(f"{gateway}/api/v1/customers/{customer_id}",
                               headers=system.headers("service_agent"))).json()
    assert record["birth_date"] is None
    assert "*" in record["national_id"]
