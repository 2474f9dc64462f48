"""Every component's migrations build exactly the schema its models declare (on PostgreSQL)."""

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from services.components import COMPONENTS, spec_of
from services.kit.migrations import differences


@pytest.mark.parametrize("component", sorted(COMPONENTS))
async def test_models_and_migrations_are_in_step(service_databases, component):
    metadata = spec_of(component).metadata
    engine = create_async_engine(await service_databases.url(component))
    try:
        async with engine.connect() as connection:
            drift = await connection.run_sync(lambda sync: differences(sync, metadata))
    finally:
        await engine.dispose()
    assert drift == [], f"{component}: models and migrations differ; add a revision (crm revision {component} -m ...)"
