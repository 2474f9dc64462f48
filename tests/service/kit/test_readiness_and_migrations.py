"""Readiness means "can serve": the database answers and is migrated to head. Migrations run in
every new pod (an init container), so several may start at once on one database."""

import asyncio
import os
import sys

import httpx
import pytest
import sqlalchemy as sa

from services.components import spec_of
from services.kit.app import build_app
from services.kit.db import create_engine
from services.kit.migrations import applied, heads, upgrade
from tests import databases
from tests.support import eventually

PREFIX = f"{databases.PREFIX}_svc_migrate"


@pytest.fixture
async def fresh_churn_database(monkeypatch) -> str:
    url = await databases.recreate_one("churn", prefix=PREFIX)
    monkeypatch.setenv("CHURN_DATABASE_URL", url)
    return url


async def test_pods_starting_together_migrate_one_after_another(fresh_churn_database):
    """Three pods start at once, each running `crm migrate churn` in its init container. While
    a migration holds the lock (here: the test), the others wait for it instead of racing on the
    schema; once it is released they all finish, and the database is at head."""
    engine = create_engine(fresh_churn_database)
    database = fresh_churn_database.rsplit("/", 1)[1]

    async def migrate() -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.cli",
            "migrate",
            "churn",
            env={**os.environ, "CHURN_DATABASE_URL": fresh_churn_database},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        assert process.returncode is not None  # communicate() waits for the exit
        return process.returncode, output

    try:
        async with engine.connect() as holder:
            await holder.execute(sa.text("SELECT pg_advisory_lock(hashtext('crm_migrate'))"))
            runs = asyncio.gather(*(migrate() for _ in range(3)))

            async def all_waiting():
                async with engine.connect() as connection:
                    waiting = await connection.scalar(
                        sa.text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND wait_event = 'advisory'"
                        ),
                        {"db": database},
                    )
                assert waiting == 3

            await eventually(all_waiting, timeout=120)
            assert await applied(engine) == set(), "nothing migrated while the lock is held"
            await holder.execute(sa.text("SELECT pg_advisory_unlock(hashtext('crm_migrate'))"))
            for returncode, output in await runs:
                assert returncode == 0, output.decode()
        assert await applied(engine) == heads(spec_of("churn").migrations)
    finally:
        await engine.dispose()


async def test_not_ready_until_migrated_to_head(fresh_churn_database):
    spec = spec_of("churn")
    app = build_app(spec, background=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://churn") as http:
            before = await http.get("/readyz")
            assert before.status_code == 503
            assert before.json()["checks"] == {"database": "ok", "migrations": "not at head"}
            assert (await http.get("/healthz")).status_code == 200, "alive though not ready"

            await asyncio.to_thread(upgrade, spec.migrations, fresh_churn_database, spec.metadata)
            after = await http.get("/readyz")
            assert after.status_code == 200, after.text
            assert after.json()["checks"] == {"database": "ok", "migrations": "ok"}
