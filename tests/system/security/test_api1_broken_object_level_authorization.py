"""OWASP API1:2023 Broken Object Level Authorization (issue 7, item 2): routes naming a consent
resolve the owning customer first; another manager's customer answers exactly like an id that
does not exist."""

import uuid

import pytest

from tests.support import once_customer_known

PATHS = [
    ("GET", "/api/v1/consents/{id}"),
    ("GET", "/api/v1/consents/{id}/receipt"),
    ("GET", "/api/v1/consents/{id}/history"),
    ("POST", "/api/v1/consents/{id}/revoke"),
]


@pytest.mark.parametrize("method,path", PATHS)
async def test_another_managers_customers_consents_look_like_nothing(
    system, client, gateway, onboard, grant, method, path
):
    customer_id = await onboard("rm-owner")
    consent_id = await grant(customer_id)
    intruder = system.headers("relationship_manager", "rm-intruder")

    theirs = await client.request(method, gateway + path.format(id=consent_id), headers=intruder)
    unknown = await client.request(method, gateway + path.format(id=uuid.uuid4()), headers=intruder)

    assert (theirs.status_code, unknown.status_code) == (404, 404), theirs.text
    assert theirs.json()["detail"] == unknown.json()["detail"] == "No consent has this id."
    owner = await client.request(
        method, gateway + path.format(id=consent_id), headers=system.headers("relationship_manager", "rm-owner")
    )
    assert owner.status_code == 200, owner.text


async def test_another_managers_pending_request_cannot_be_read_or_revoked(system, client, gateway, onboard):
    customer_id = await onboard("rm-owner")
    requested = await once_customer_known(
        lambda: client.post(
            f"{gateway}/api/v1/consent-requests",
            headers=system.headers("relationship_manager", "rm-owner"),
            json={
                "customer_id": customer_id,
                "recipient": "partner-insurer",
                "purpose": "third_party_sharing",
                "data_categories": ["basic"],
                "channel": "branch",
            },
        )
    )
    assert requested.status_code == 201, requested.text
    url = f"{gateway}/api/v1/consents/{requested.json()['id']}"
    intruder = system.headers("relationship_manager", "rm-intruder")
    assert (await client.get(url, headers=intruder)).status_code == 404
    assert (await client.post(f"{url}/revoke", headers=intruder)).status_code == 404
    still = await client.get(url, headers=system.headers("relationship_manager", "rm-owner"))
    assert still.json()["status"] == "requested"


async def test_another_customer_gets_the_same_404_as_for_an_unknown_consent(system, client, gateway, onboard, grant):
    consent_id = await grant(await onboard())
    stranger = system.headers("customer", str(uuid.uuid4()))
    theirs = await client.get(f"{gateway}/api/v1/consents/{consent_id}/history", headers=stranger)
    unknown = await client.get(f"{gateway}/api/v1/consents/{uuid.uuid4()}/history", headers=stranger)
    assert (theirs.status_code, theirs.json()["detail"]) == (unknown.status_code, unknown.json()["detail"])
