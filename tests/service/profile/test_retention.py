"""Retention (R2.2) in the profile service, in process: customers whose relationship ended longer
ago than the basic-data limit are erased by the `apply-retention` job; recent leavers, returning
and active customers are not; replicas running the job at once share the work out.
(The policy itself: tests/unit/profile/test_retention_days.py.)"""

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.kit import crypto
from services.kit.clock import now
from services.kit.identity import caller_headers
from services.profile.declarations import Category
from services.profile.retention import apply_retention, retention_days
from services.profile.settings import ProfileSettings
from tests.service.conftest import PREFIX, ServiceDatabases
from tests.service.profile.helpers import announced, create_customer

ADMIN = caller_headers("admin", "admin-r")
CUSTOMERS = "/api/v1/customers"


@pytest.fixture(scope="module")
def service_databases() -> ServiceDatabases:
    """A profile database of this module's own: the job erases every customer due in the
    database, and the session's shared one holds other tests' leavers, back-dated on purpose."""
    return ServiceDatabases(prefix=f"{PREFIX}_retention")


async def customer_in(client, *stages: str) -> dict:
    """A new customer moved through `stages` in order."""
    customer = await create_customer(client, ADMIN)
    for stage in stages:
        moved = await client.post(
            f"{CUSTOMERS}/{customer['id']}/lifecycle", json={"stage": stage, "reason": "test"}, headers=ADMIN
        )
        assert moved.status_code == 200, moved.text
    return customer


async def churned_days_ago(engine, customer_id: str, days: int, *, which: str = "max") -> None:
    """Back-date the customer's latest (or first: which="min") move to `churned`."""
    async with engine.begin() as connection:
        moved = await connection.execute(
            sa.text(
                f"UPDATE lifecycle_history SET at = :at WHERE id = (SELECT {which}(id) FROM lifecycle_history "
                "WHERE customer_id = :c AND to_stage = 'churned')"
            ),
            {"at": now() - timedelta(days=days), "c": customer_id},
        )
        assert moved.rowcount == 1


async def erase_records(engine, customer_ids: list[str]) -> dict[str, list[tuple]]:
    async with engine.connect() as connection:
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


async def test_customers_whose_relationship_ended_beyond_the_limit_are_erased(profile, client):
    limit = 1825  # the default basic limit, as the service has it
    overdue = await customer_in(client, "churned")
    recent = await customer_in(client, "churned")
    within = await customer_in(client, "churned")
    returned = await customer_in(client, "churned", "onboarding")  # came back: relationship open
    churned_again = await customer_in(client, "churned", "onboarding", "churned")  # clock restarted
    active = await customer_in(client, "onboarding", "active")
    kept_ones = (recent, within, returned, churned_again, active)
    await churned_days_ago(profile.engine, overdue["id"], limit + 1)
    await churned_days_ago(profile.engine, within["id"], limit - 1)
    await churned_days_ago(profile.engine, returned["id"], limit + 100)
    await churned_days_ago(profile.engine, churned_again["id"], limit + 100, which="min")

    assert await profile.run_job("apply-retention") >= 1

    gone = await client.get(f"{CUSTOMERS}/{overdue['id']}", headers=ADMIN)
    assert gone.status_code == 410, gone.text
    for kept in kept_ones:
        read = await client.get(f"{CUSTOMERS}/{kept['id']}", headers=ADMIN)
        assert read.status_code == 200 and read.json()["name"] == kept["name"], read.text

    [(_event, key)] = await announced(profile, "customer.erased", overdue["id"])
    assert key == overdue["id"]
    for kept in kept_ones:
        assert await announced(profile, "customer.erased", kept["id"]) == []

    async with profile.engine.connect() as connection:
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

    records = await erase_records(profile.engine, [c["id"] for c in (overdue, *kept_ones)])
    [(actor, role, reason)] = records.pop(overdue["id"])
    assert (actor, role) == ("job:apply-retention", "system") and f"{limit} days" in reason
    assert not any(records.values())

    # Nothing is erased twice: the next run finds nothing due.
    assert await profile.run_job("apply-retention") == 0


async def test_the_job_works_in_bounded_batches_and_skips_rows_another_replica_holds(profile, client, monkeypatch):
    days = retention_days(ProfileSettings(retention_days={"basic": 30}))[Category.BASIC]
    leavers = [await customer_in(client, "churned") for _ in range(5)]
    for leaver in leavers:
        await churned_days_ago(profile.engine, leaver["id"], days + 1)
    ids = [leaver["id"] for leaver in leavers]
    held, others = ids[0], ids[1:]
    sessions = profile.sessions

    with monkeypatch.context() as without_keys:
        # No key ring while the job runs: it must erase without decrypting anything.
        without_keys.setattr(crypto, "_installed", None)
        async with profile.engine.connect() as other_replica:
            transaction = await other_replica.begin()
            await other_replica.execute(sa.text("SELECT id FROM customers WHERE id = :id FOR UPDATE"), {"id": held})
            assert await apply_retention(sessions, days=days, batch_size=1) == 1  # one batch, however many are due
            # Two replicas at once: they share out the rest, none waits for the held row.
            await asyncio.wait_for(
                asyncio.gather(*(apply_retention(sessions, days=days, batch_size=50) for _ in range(2))), timeout=10
            )
            assert await apply_retention(sessions, days=days, batch_size=50) == 0
            records = await erase_records(profile.engine, ids)
            assert records[held] == [] and all(len(records[i]) == 1 for i in others), records
            await transaction.rollback()

        assert await apply_retention(sessions, days=days, batch_size=50) >= 1  # released: erased now
    records = await erase_records(profile.engine, ids)
    assert all(len(records[i]) == 1 for i in ids), records
    for customer_id in ids:
        assert (await client.get(f"{CUSTOMERS}/{customer_id}", headers=ADMIN)).status_code == 410
