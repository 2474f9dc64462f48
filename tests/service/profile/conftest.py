"""The profile service in process, and a client calling it directly as the gateway does."""

import pytest


@pytest.fixture
async def profile(service):
    return await service("profile")


@pytest.fixture
async def client(profile):
    """Calls as the gateway itself unless a request sends another caller's headers."""
    async with profile.client("gateway", "gateway") as http:
        yield http
