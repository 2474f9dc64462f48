import pytest


@pytest.fixture
async def consent(service):
    """The consent service in process."""
    return await service("consent")


@pytest.fixture
async def http(consent):
    """Calls the consent service as the gateway itself unless a test sends another caller's
    credential (services refuse anonymous calls)."""
    async with consent.client("gateway", "gateway") as client:
        yield client
