import pytest

from tests.support import eventually, new_customer


@pytest.fixture
def gateway(system) -> str:
    return system.url("gateway")


@pytest.fixture
def onboard(system, client, gateway):
    """A new customer, created by `manager`, who has consented to bank marketing."""

    async def create(manager: str = "rm-owner") -> str:
        response = await client.post(
            f"{gateway}/api/v1/customers", json=new_customer(), headers=system.headers("relationship_manager", manager)
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    return create


@pytest.fixture
def grant(system, client, gateway):
    """The customer's own grant through the gateway; returns the consent id."""

    async def give(customer_id: str, recipient: str = "bank-marketing", purpose: str = "marketing") -> str:
        async def granted():
            response = await client.post(
                f"{gateway}/api/v1/consents",
                headers=system.headers("customer", customer_id),
                json={
                    "customer_id": customer_id,
                    "recipient": recipient,
                    "purpose": purpose,
                    "data_categories": ["basic"],
                },
            )
            assert response.status_code == 201, response.text
            return response.json()["id"]

        return await eventually(granted, timeout=15)

    return give
