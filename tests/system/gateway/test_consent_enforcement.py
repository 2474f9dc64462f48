"""Consent enforced at the gateway: marketing roles and partner systems get customer data only
with a valid consent, revocation bites within a second, partners get only the consented
categories under a per-partner pseudonym."""

import time

import pytest

from tests.support import new_customer, once_customer_known


@pytest.fixture
def gateway(system):
    return system.url("gateway")


async def onboard(client, system, gateway) -> str:
    response = await client.post(f"{gateway}/api/v1/customers", json=new_customer(), headers=system.headers("admin"))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def grant(client, system, gateway, customer_id, recipient, purpose, categories) -> str:
    response = await once_customer_known(
        lambda: client.post(
            f"{gateway}/api/v1/consents",
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
    return response.json()["id"]


async def test_a_revoked_consent_denies_through_the_gateway_within_a_second(system, client, gateway):
    customer_id = await onboard(client, system, gateway)
    analyst = system.headers("marketing_analyst")
    url = f"{gateway}/api/v1/customers/{customer_id}"

    assert (await client.get(url, headers=analyst)).status_code == 403  # no consent yet
    consent_id = await grant(client, system, gateway, customer_id, "bank-marketing", "marketing", ["basic"])
    allowed = await client.get(url, headers=analyst)
    assert allowed.status_code == 200, allowed.text  # and now cached at the gateway
    assert (await client.get(url, headers=analyst)).status_code == 200

    revoked = await client.post(
        f"{gateway}/api/v1/consents/{consent_id}/revoke", headers=system.headers("customer", customer_id)
    )
    assert revoked.status_code == 200
    started = time.monotonic()
    while (await client.get(url, headers=analyst)).status_code != 403:
        assert time.monotonic() - started < 1.0, "the revoked consent still permits after a second"
        await _pause()
    denied = await client.get(url, headers=analyst)
    assert denied.headers["content-type"] == "application/problem+json"
    assert "marketing" in denied.json()["detail"]


async def test_a_partner_receives_only_consented_categories_under_a_pseudonym(system, client, gateway):
    customer_id = await onboard(client, system, gateway)
    url = f"{gateway}/api/v1/partner/customers/{customer_id}"
    insurer = system.headers("partner", "insurer-x")

    # Without consent, the same 404 as for an id that does not exist: no existence oracle.
    refused = await client.get(url, params={"purpose": "third_party_sharing"}, headers=insurer)
    assert refused.status_code == 404

    consent_id = await grant(client, system, gateway, customer_id, "insurer-x", "third_party_sharing", ["risk"])
    shared = await client.get(url, params={"purpose": "third_party_sharing"}, headers=insurer)
    assert shared.status_code == 200, shared.text
    body = shared.json()
    assert body["categories"] == ["risk"]
    # The only risk-category fields; nothing else leaves.
    assert set(body["data"]) == {"risk_level", "risk_level_valid_until"}
    assert body["subject"] != customer_id and customer_id not in shared.text
    for identifying in ("national_id", "phone", "name", "email", "address", "birth_date", "id"):
        assert identifying not in body["data"]

    # The same customer is another pseudonym for another partner: records cannot be joined.
    await grant(client, system, gateway, customer_id, "lender-y", "third_party_sharing", ["risk", "business"])
    other = (
        await client.get(url, params={"purpose": "third_party_sharing"}, headers=system.headers("partner", "lender-y"))
    ).json()
    assert other["subject"] != body["subject"]
    assert other["categories"] == ["business", "risk"]
    assert "assets_under_management" in other["data"] and "tier" in other["data"]

    # Another purpose than the consented one gets nothing; neither does anyone after revocation.
    wrong_purpose = await client.get(url, params={"purpose": "marketing"}, headers=insurer)
    assert wrong_purpose.status_code == 404
    await client.post(f"{gateway}/api/v1/consents/{consent_id}/revoke", headers=system.headers("customer", customer_id))
    started = time.monotonic()
    while (await client.get(url, params={"purpose": "third_party_sharing"}, headers=insurer)).status_code != 404:
        assert time.monotonic() - started < 1.0
        await _pause()


async def test_a_partner_must_name_the_purpose(system, client, gateway):
    customer_id = await onboard(client, system, gateway)
    response = await client.get(
        f"{gateway}/api/v1/partner/customers/{customer_id}", headers=system.headers("partner", "insurer-x")
    )
    assert response.status_code == 400
    assert "purpose" in response.json()["detail"]


async def _pause():
    import asyncio

    await asyncio.sleep(0.02)


async def test_a_customer_downloads_their_own_consent_receipt(system, client, gateway):
    customer_id = await onboard(client, system, gateway)
    consent_id = await grant(client, system, gateway, customer_id, "bank-marketing", "marketing", ["basic"])
    url = f"{gateway}/api/v1/consents/{consent_id}/receipt"

    receipt = await client.get(url, headers=system.headers("customer", customer_id))
    assert receipt.status_code == 200, receipt.text
    body = receipt.json()
    assert body["piiPrincipalId"] == customer_id and body["consentReceiptID"]
    assert body["services"][0]["purposes"][0]["purpose"] == "marketing"

    someone_else = await client.get(url, headers=system.headers("customer", "another-customer"))
    assert someone_else.status_code == 404
