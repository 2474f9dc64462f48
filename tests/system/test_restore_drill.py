"""Restore drill for every component's database but profile's (whose drill, with its encryption
keys, is tests/system/profile/test_backup_restore.py), as deploy/BACKUP.md tells operators to run
it. After the platform's ordinary use (a customer onboarded, a consent, a risk assessment, a
complaint, the gateway's access rows, the read models the events built), each database is
dumped with deploy/backup/backup.sh, lost, restored with restore.sh into a new, empty one and
migrated; the component then serves again, every table holds exactly the rows it held, and its
audit chain (where it keeps one) verifies against the checkpoints it published before the loss."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.components import spec_of
from tests import databases
from tests.service.recommendation.helpers import C4_ANSWERS
from tests.support import eventually, onboard_through_gateway, once_customer_known, system_of_its_own
from tests.system.profile.test_backup_restore import audit_chain, run_script

pytestmark = pytest.mark.timeout(600)
# Every component with a database of its own but profile (drilled with its keys elsewhere).
DRILLED = ["gateway", "consent", "recommendation", "churn", "feedback"]
AUDITED = [component for component in DRILLED if spec_of(component).audit is not None]


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    with system_of_its_own(tmp_path_factory.mktemp("restore-drill"), "restore_drill") as (running, _):
        yield running


async def row_counts(database_url: str) -> dict[str, int]:
    """Every table of the database and the rows it holds (the migrations' own bookkeeping too)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            return {
                table: await connection.scalar(sa.text(f'SELECT count(*) FROM "{table}"')) for table in sorted(tables)
            }
    finally:
        await engine.dispose()


def sealed_records(own, component: str) -> int:
    """How many records the component's intact audit chain holds, all of them sealed."""
    sealed, unsealed = audit_chain(own, component)
    assert unsealed == 0
    return sealed


async def test_every_database_restores_whole_and_its_component_serves_it(own, client, tmp_path: Path):
    gateway = own.url("gateway")
    customer_id = await onboard_through_gateway(client, own, "rm-drill")  # profile, consent, feedback
    me = own.headers("customer", customer_id)
    assessed = await once_customer_known(
        lambda: client.post(
            f"{gateway}/api/v1/customers/{customer_id}/risk-assessments",
            json={"questionnaire_version": "2026.1", "answers": C4_ANSWERS},
            headers=me,
        )
    )
    assert assessed.status_code == 201, assessed.text

    async def churn_knows_the_customer():
        risk = await client.get(
            f"{gateway}/api/v1/customers/{customer_id}/churn-risk",
            headers=own.headers("relationship_manager", "rm-drill"),
        )
        assert risk.status_code == 200, risk.text

    await eventually(churn_knows_the_customer)
    # Every audit chain sealed and checkpointed: what verify-audit holds the restored chain to.
    before = {
        component: await eventually(lambda component=component: sealed_records(own, component), timeout=60)
        for component in AUDITED
    }
    held = {component: await row_counts(own.database_urls[component]) for component in DRILLED}
    assert all(count > 0 for count in before.values()), before

    for component in DRILLED:
        database_url = own.database_urls[component]
        dump = tmp_path / f"{component}.dump"
        backup = run_script("backup.sh", component, str(dump), database_url=database_url)
        assert backup.returncode == 0, backup.stderr
        catalogue = spec_of(component).catalogue
        if any(catalogue.encrypted(table) for table in catalogue.tables):  # feedback: the complaint's description
            assert f"{component}: restoring it needs encryption key ids: " in backup.stdout, backup.stdout
        else:
            assert f"{component}: it holds no sealed fields" in backup.stdout, backup.stdout

        own.stop_component(component)
        await databases.recreate(prefix=own.database_prefix, components=[component])
        restored = run_script("restore.sh", component, str(dump), database_url=database_url)
        assert restored.returncode == 0, restored.stderr
        own.run_cli("migrate", component)
        own.start_component(component)
        own.wait_ready(component)

        assert await row_counts(database_url) == held[component], component
        if component in AUDITED:
            assert sealed_records(own, component) >= before[component], component

    # The restored components serve what they held.
    consents = await client.get(f"{gateway}/api/v1/customers/{customer_id}/consents", headers=me)
    assert consents.status_code == 200, consents.text
    assert [c["status"] for c in consents.json()] == ["active"]
    cases = await client.get(f"{gateway}/api/v1/cases", headers=me)
    assert cases.status_code == 200, cases.text
    assert [c["customer_id"] for c in cases.json()["items"]] == [customer_id]
    current = await client.get(f"{gateway}/api/v1/customers/{customer_id}/risk-assessments/current", headers=me)
    assert current.status_code == 200, current.text
    assert current.json()["id"] == assessed.json()["id"]
