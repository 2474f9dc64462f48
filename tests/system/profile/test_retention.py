"""Retention (R2.2): customers whose relationship ended longer ago than the basic-data limit are
erased by the `apply-retention` job; recent leavers, returning and active customers are not."""

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit import crypto, db
from services.kit.clock import now
from services.kit.identity import caller_headers
from services.profile.declarations import Category
from services.profile.retention import apply_retention, retention_days
from services.profile.settings import ProfileSettings
from tests.support import new_customer

ADMIN = caller_headers("admin", "admin-r")


@pytest.fixture
def url(system) -> str:
    return system.url("profile") + "/api/v1/customers"


@pytest.fixture(scope="module")
async def database(system):
    engine = create_async_engine(system.database_urls["profile"])
    yield engine
    await engine.dispose()


async def customer_in(client, url: str, *stages: str) -> dict:
    """A new customer moved through `stages` in order."""
    response = await client.post(url, json=new_customer(), headers=ADMIN)
    assert response.status_code == 201, response.text
    customer = response.json()
    for stage in stages:
        moved = await client.post(
            f"{url}/{customer['id']}/lifecycle", json={"stage": stage, "reason": "test"}, headers=ADMIN
        )
        assert moved.status_code == 200, moved.text
    return customer


async def churned_days_ago(database, customer_id: str, days: int, *, which: str = "max") -> None:
    """Back-date the customer's latest (or first: which="min") move to `churned`."""
    async with database.begin() as connection:
        moved = await connection.execute(
            sa.text(
                f"UPDATE lifecycle_history SET at = :at WHERE id = (SELECT {which}(id) FROM lifecycle_history "
                "WHERE customer_id = :c AND to_stage = 'churned')"
            ),
            {"at": now() - timedelta(days=days), "c": customer_id},
        )
        assert moved.rowcount == 1


async def erase_records(database, customer_ids: list[str]) -> dict[str, list[tuple]]:
    async with database.connect() as connection:
        rows = (
            await connection.execute(
                sa.text(
                    "SELECT customer_id, actor, role, reason FROM audit_log WHERE action = 'erase' "
                    "AND customer_id = ANY(:ids) ORDER BY id"
                ),
                {"ids": customer_ids},
            )
        ).all()
    found: dict[str, list[tuple[str, str, str | None]]] = {customer_id: [] for customer_id in customer_ids}
    for row in rows:
        found[row.customer_id].append((row.actor, row.role, row.reason))
    return found


def test_the_policy_comes_from_settings_over_the_defaults(monkeypatch):
    assert retention_days(ProfileSettings()) == {
        Category.BASIC: 1825,
        Category.BUSINESS: 1825,
        Category.RISK: 1825,
        Category.BEHAVIOUR: 730,
    }
    monkeypatch.setenv("PROFILE_RETENTION_DAYS", '{"basic": 30}')
    assert retention_days(ProfileSettings())[Category.BASIC] == 30
    assert retention_days(ProfileSettings())[Category.BEHAVIOUR] == 730  # not named: the default stays
    with pytest.raises(ValueError, match="unknown data categories"):
        retention_days(ProfileSettings(retention_days={"hobbies": 10}))
    with pytest.raises(ValueError, match="zero or more"):
        retention_days(ProfileSettings(retention_days={"basic": -1}))


async def test_customers_whose_relationship_ended_beyond_the_limit_are_erased(system, client, url, kafka, database):
    limit = 1825  # the default basic limit, as the running service has it
    overdue = await customer_in(client, url, "churned")
    recent = await customer_in(client, url, "churned")
    within = await customer_in(client, url, "churned")
    returned = await customer_in(client, url, "churned", "onboarding")  # came back: relationship open
    churned_again = await customer_in(client, url, "churned", "onboarding", "churned")  # clock restarted
    active = await customer_in(client, url, "onboarding", "active")
    await churned_days_ago(database, overdue["id"], limit + 1)
    await churned_days_ago(database, within["id"], limit - 1)
    await churned_days_ago(database, returned["id"], limit + 100)
    await churned_days_ago(database, churned_again["id"], limit + 100, which="min")

    ran = system.run_cli("run-job", "profile", "apply-retention")
    assert ran.stdout.startswith("profile/apply-retention: ") and " 0 handled" not in ran.stdout, ran.stdout

    gone = await client.get(f"{url}/{overdue['id']}", headers=ADMIN)
    assert gone.status_code == 410, gone.text
    for kept in (recent, within, returned, churned_again, active):
        read = await client.get(f"{url}/{kept['id']}", headers=ADMIN)
        assert read.status_code == 200 and read.json()["name"] == kept["name"], read.text

    await kafka.wait_for("crm.customer", lambda e, h: e.type == "customer.erased" and e.customer_id == overdue["id"])
    erased_ids = {
        e.customer_id for e, _ in await kafka.read_all("crm.customer") if getattr(e, "type", None) == "customer.erased"
    }
    assert not erased_ids & {c["id"] for c in (recent, within, returned, churned_again, active)}

    async with database.connect() as connection:
        row = (
            await connection.execute(
                sa.text(
                    "SELECT name, national_id, national_id_index, phone_index, assets_under_management, erased_at "
                    "FROM customers WHERE id = :id"
                ),
                {"id": overdue["id"]},
            )
        ).one()
    assert (row.name, row.national_id, row.national_id_index, row.phone_index) == (None, None, None, None)
    assert row.erased_at is not None and str(row.assets_under_management) == overdue["assets_under_management"]

    records = await erase_records(
        database, [c["id"] for c in (overdue, recent, within, returned, churned_again, active)]
    )
    [(actor, role, reason)] = records.pop(overdue["id"])
    assert (actor, role) == ("job:apply-retention", "system") and f"{limit} days" in reason
    assert not any(records.values())

    # Nothing is erased twice: the next run finds nothing due.
    assert (
        system.run_cli("run-job", "profile", "apply-retention").stdout.strip() == "profile/apply-retention: 0 handled"
    )


async def test_the_job_works_in_bounded_batches_and_skips_rows_another_replica_holds(
    system, client, url, database, monkeypatch
):
    # No key ring in this process: the job must erase without decrypting anything.
    monkeypatch.setattr(crypto, "_installed", None)
    days = retention_days(ProfileSettings(retention_days={"basic": 30}))[Category.BASIC]
    leavers = [await customer_in(client, url, "churned") for _ in range(5)]
    for leaver in leavers:
        await churned_days_ago(database, leaver["id"], days + 1)
    ids = [leaver["id"] for leaver in leavers]
    held, others = ids[0], ids[1:]
    sessions = db.session_factory(database)

    async with database.connect() as other_replica:
        transaction = await other_replica.begin()
        await other_replica.execute(sa.text("SELECT id FROM customers WHERE id = :id FOR UPDATE"), {"id": held})
        assert await apply_retention(sessions, days=days, batch_size=1) == 1  # one batch, however many are due
        # Two replicas at once: they share out the rest, none waits for the held row.
        await asyncio.wait_for(
            asyncio.gather(*(apply_retention(sessions, days=days, batch_size=50) for _ in range(2))), timeout=10
        )
        assert await apply_retention(sessions, days=days, batch_size=50) == 0
        records = await erase_records(database, ids)
        assert records[held] == [] and all(len(records[i]) == 1 for i in others), records
        await transaction.rollback()

    assert await apply_retention(sessions, days=days, batch_size=50) >= 1  # released: erased now
    records = await erase_records(database, ids)
    assert all(len(records[i]) == 1 for i in ids), records
    for customer_id in ids:
        assert (await client.get(f"{url}/{customer_id}", headers=ADMIN)).status_code == 410
