import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from tests.system.consent import helpers


@pytest.fixture
def url(system, kafka) -> str:
    helpers.PROBE = kafka  # how helpers tell the consent service that a test's customer exists
    return system.url("consent")


@pytest.fixture
async def consent_db(system):
    """The consent service's own database, read (and, for tampering, written) as a DBA would."""
    engine = create_async_engine(system.database_urls["consent"])
    yield engine
    await engine.dispose()
