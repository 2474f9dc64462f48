"""Every component's migrations build exactly the schema its models declare (on PostgreSQL)."""

import asyncio
import shutil

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from services.components import COMPONENTS, spec_of
from services.kit.migrations import differences, heads, new_revision


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


async def test_a_revision_is_generated_after_the_head_and_holds_no_change_when_in_step(service_databases, tmp_path):
    spec = spec_of("consent")
    copy = tmp_path / "migrations"
    shutil.copytree(spec.migrations, copy)
    [head] = heads(copy)

    url = await service_databases.url("consent")
    await asyncio.to_thread(new_revision, copy, url, spec.metadata, "nothing to do")  # alembic runs its own loop

    [written] = [p for p in (copy / "versions").glob("*.py") if p.name.endswith("_nothing_to_do.py")]
    text = written.read_text()
    assert f'revision = "{int(head) + 1:04d}"' in text and f'down_revision = "{head}"' in text
    upgrade = text.split("def upgrade() -> None:")[1].split("def downgrade")[0]
    assert "op." not in upgrade and "pass" in upgrade
