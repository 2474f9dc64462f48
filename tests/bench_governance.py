"""Governance jobs at volume, each beside a baseline measured in the same run:

1. `retier` after a tier threshold is lowered (every customer concerned gets its new tier, a
   history row and a `customer.tier_changed` event, in batches of 200), beside one plain SQL
   UPDATE of the same rows (no history, no events): what the bookkeeping costs.
2. `apply-retention` in feedback (survey answers past the behaviour limit, legal holds checked,
   batches of 500 under SKIP LOCKED), beside one plain DELETE of the same rows.
3. `mark-dormant` over customers long inactive (each gets the dormant stage, a history row, a
   `customer.lifecycle_changed` event and an audit row, in batches of 200), beside one plain SQL
   UPDATE of the same rows.
4. `expire-consents` over consents past their expiry (each gets the expired status, a history
   row, an audit row and a `consent.expired` event, in batches of 500), beside one plain SQL
   UPDATE of the same rows.
5. `expire-points` in churn over a ledger whose every customer has lapsed points (each gets an
   `expire` movement under its account's row lock, batches of 100), beside one plain INSERT of
   the same movements (no locks, no balances).
6. The customer book's triggers (services/profile/book.py) on a write of one customer: the
   PostgreSQL CPU of an UPDATE changing one customer's tier, and of one changing only their
   last activity, beside the same statements with the triggers disabled.

In process, on PostgreSQL databases of its own (prefix <CRM_TEST_DB_PREFIX>_govbench).

    BENCH_GOV_ROWS   customers / answers per cell (default 5000)
"""

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

import asyncpg
import sqlalchemy as sa

from services.components import spec_of
from services.kit import db
from services.kit.clock import now
from services.kit.migrations import upgrade
from tests import databases
from tests.bench import cpu_seconds

ROWS = int(os.environ.get("BENCH_GOV_ROWS", "5000"))


def _entry(cell: str, rows: int, seconds: float, baseline_seconds: float) -> dict:
    value, baseline = rows / seconds, rows / baseline_seconds
    print(f"  {cell:<58} {value:>10,.0f} rows/s   baseline {baseline:>10,.0f} rows/s   ratio {value / baseline:.3f}")
    return {"cell": cell, "value": value, "unit": "rows/s", "baseline": baseline, "ratio": value / baseline}


async def _timed(action) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


async def _job_beside_plain_statement(
    engine, *, plain: sa.Executable, reset: sa.Executable, job: Callable[[], Awaitable[int]], left: sa.Select
) -> tuple[float, float]:
    """Seconds of the job's batches until one finds nothing to do, and of one `plain` statement
    (an UPDATE, DELETE or INSERT) making the bare change first (then undone by `reset`); `left` counts what the job left
    undone (none, or it fails). Disposes of `engine`."""

    async def plain_statement():
        async with engine.begin() as connection:
            await connection.execute(plain)

    async def run_job():
        while await job():
            pass

    baseline = await _timed(plain_statement)
    async with engine.begin() as connection:
        await connection.execute(reset)
    seconds = await _timed(run_job)
    async with engine.connect() as connection:
        remaining = await connection.scalar(left)
    await engine.dispose()
    assert remaining == 0, remaining
    return seconds, baseline


async def bench_retier(url: str) -> dict:
    os.environ["PROFILE_DATABASE_URL"] = url
    os.environ["PROFILE_TIER_AFFLUENT_ASSETS"] = "400000"
    try:
        spec = spec_of("profile")
    finally:
        os.environ.pop("PROFILE_TIER_AFFLUENT_ASSETS")
    from services.profile.models import Customer
    from services.profile.segments import retier_all

    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    moment = now()
    async with engine.begin() as connection:
        await db.insert_many(
            connection,
            Customer.__table__,
            [
                {
                    "id": str(uuid.uuid4()),
                    "key_id": "bench",
                    "assets_under_management": Decimal("420000"),
                    "product_holdings": 1,
                    "risk_level": "C3",
                    "tier": "mass",
                    "lifecycle_stage": "active",
                    "version": 1,
                    "created_at": moment,
                    "updated_at": moment,
                    "last_activity_at": moment,
                }
                for _ in range(ROWS)
            ],
        )

    seconds, baseline = await _job_beside_plain_statement(
        engine,
        plain=sa.update(Customer)
        .where(Customer.tier == "mass", Customer.assets_under_management >= 400000)
        .values(tier="affluent"),
        reset=sa.update(Customer).values(tier="mass"),
        job=lambda: retier_all(sessions, settings=spec.settings),
        left=sa.select(sa.func.count()).where(Customer.tier == "mass"),
    )
    return _entry("retier after a lowered threshold (history + event each)", ROWS, seconds, baseline)


async def bench_mark_dormant(url: str) -> dict:
    """The customers of bench_retier, inactive for two years."""
    os.environ["PROFILE_DATABASE_URL"] = url
    spec = spec_of("profile")
    from services.profile.models import Customer
    from services.profile.segments import mark_dormant

    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    async with engine.begin() as connection:
        await connection.execute(sa.update(Customer).values(last_activity_at=now() - timedelta(days=730)))

    seconds, baseline = await _job_beside_plain_statement(
        engine,
        plain=sa.update(Customer).where(Customer.lifecycle_stage == "active").values(lifecycle_stage="dormant"),
        reset=sa.update(Customer).values(lifecycle_stage="active"),
        job=lambda: mark_dormant(sessions, days=spec.settings.dormant_after_days),
        left=sa.select(sa.func.count()).where(Customer.lifecycle_stage == "active"),
    )
    return _entry("mark-dormant (history + event + audit each)", ROWS, seconds, baseline)


async def bench_expire_consents(url: str) -> dict:
    os.environ["CONSENT_DATABASE_URL"] = url
    from services.consent.models import Consent
    from services.consent.service import expire_due

    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    granted = now() - timedelta(days=400)
    async with engine.begin() as connection:
        await db.insert_many(
            connection,
            Consent.__table__,
            [
                {
                    "id": str(uuid.uuid4()),
                    "customer_id": f"bench-{i}",
                    "recipient": "partner.bench",
                    "recipient_type": "partner",
                    "purpose": "marketing",
                    "data_categories": ["basic"],
                    "legal_basis": "consent",
                    "channel": "mobile",
                    "language": "zh-CN",
                    "status": "active",
                    "created_at": granted,
                    "granted_at": granted,
                    "expires_at": granted + timedelta(days=365),
                }
                for i in range(ROWS)
            ],
        )
    seconds, baseline = await _job_beside_plain_statement(
        engine,
        plain=sa.update(Consent).where(Consent.status == "active").values(status="expired"),
        reset=sa.update(Consent).values(status="active"),
        job=lambda: expire_due(sessions),
        left=sa.select(sa.func.count()).where(Consent.status == "active"),
    )
    return _entry("expire-consents (history + audit + event each)", ROWS, seconds, baseline)


async def bench_expire_points(url: str) -> dict:
    """ROWS customers with LOTS lapsed lots each: the ledger the expiry walks is LOTS times the
    customers it expires."""
    lots = 10
    os.environ["CHURN_DATABASE_URL"] = url
    expiry = next(job for job in spec_of("churn").jobs if job.name == "expire-points")
    from services.churn.points.models import PointsAccount, PointsMovement

    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    granted = now() - timedelta(days=400)
    customers = [f"bench-{i:06d}" for i in range(ROWS)]
    async with engine.begin() as connection:
        await db.insert_many(
            connection,
            PointsAccount.__table__,
            [{"customer_id": c, "balance": 10 * lots, "updated_at": granted} for c in customers],
        )
        await db.insert_many(
            connection,
            PointsMovement.__table__,
            [
                {
                    "customer_id": c,
                    "kind": "adjust",
                    "points": 10,
                    "source_id": f"bench:{c}:{lot}",
                    "reason": "bench",
                    "created_at": granted,
                    "expires_at": granted + timedelta(days=365),
                }
                for c in customers
                for lot in range(lots)
            ],
        )
        await connection.execute(sa.text("ANALYZE points_movements"))  # as autovacuum would after a bulk load
    expired = PointsMovement.kind == "expire"
    lapsed = sa.select(
        PointsMovement.customer_id,
        sa.literal("expire"),
        -sa.func.sum(PointsMovement.points),
        sa.literal("plain:") + PointsMovement.customer_id,
        sa.literal("expired"),
        sa.func.now(),
    ).group_by(PointsMovement.customer_id)
    seconds, baseline = await _job_beside_plain_statement(
        engine,
        plain=sa.insert(PointsMovement).from_select(
            ["customer_id", "kind", "points", "source_id", "reason", "created_at"], lapsed
        ),
        reset=sa.delete(PointsMovement).where(expired),
        job=lambda: expiry.run(sessions),
        left=sa.select(sa.func.count()).select_from(PointsAccount).where(PointsAccount.balance > 0),
    )
    return _entry(f"expire-points (ledger of {lots} lots per customer)", ROWS, seconds, baseline)


async def bench_book_triggers(url: str) -> list[dict]:
    """PostgreSQL CPU per one-customer UPDATE with the book's triggers, beside the same UPDATE
    with them disabled (customers from bench_retier)."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        backend = await connection.fetchval("SELECT pg_backend_pid()")
        ids = [row["id"] for row in await connection.fetch("SELECT id FROM customers ORDER BY id LIMIT 1000")]
        statements = {
            "tier": await connection.prepare(
                "UPDATE customers SET tier = CASE tier WHEN 'mass' THEN 'affluent' ELSE 'mass' END WHERE id = $1"
            ),
            "last activity": await connection.prepare("UPDATE customers SET last_activity_at = now() WHERE id = $1"),
        }

        async def cpu_per_update(statement) -> float:
            for customer_id in ids[:50]:  # warm up: plans made and kept
                await statement.fetch(customer_id)
            before = cpu_seconds(backend)
            for customer_id in ids:
                await statement.fetch(customer_id)
            return (cpu_seconds(backend) - before) / len(ids) * 1e6

        with_triggers = {name: await cpu_per_update(statement) for name, statement in statements.items()}
        await connection.execute("ALTER TABLE customers DISABLE TRIGGER USER")
        try:
            without = {name: await cpu_per_update(statement) for name, statement in statements.items()}
        finally:
            await connection.execute("ALTER TABLE customers ENABLE TRIGGER USER")
    finally:
        await connection.close()
    entries = []
    for name in statements:
        cell = f"customer book: one customer's {name} changed (PostgreSQL CPU)"
        value, baseline = with_triggers[name], without[name]
        print(
            f"  {cell:<58} {value:>10,.0f} us        baseline {baseline:>10,.0f} us        ratio {value / baseline:.2f}"
        )
        entries.append({"cell": cell, "value": value, "unit": "us", "baseline": baseline, "ratio": value / baseline})
    return entries


async def bench_retention(url: str) -> dict:
    os.environ["FEEDBACK_DATABASE_URL"] = url
    spec = spec_of("feedback")
    from services.feedback.models import SurveyAnswer

    job = next(j for j in spec.jobs if j.name == "apply-retention")
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)

    async def seed():
        old = now() - timedelta(days=800)
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(SurveyAnswer),
                [
                    {
                        "id": str(uuid.uuid4()),
                        "customer_id": str(uuid.uuid4()),
                        "survey": "csat",
                        "score": 4,
                        "channel": "web",
                        "comment": None,
                        "received_at": old,
                    }
                    for _ in range(ROWS)
                ],
            )

    async def plain_delete():
        async with engine.begin() as connection:
            await connection.execute(
                sa.delete(SurveyAnswer).where(SurveyAnswer.received_at < now() - timedelta(days=730))
            )

    async def run_job():
        while await job.run(sessions):
            pass

    await seed()
    baseline = await _timed(plain_delete)
    await seed()
    seconds = await _timed(run_job)
    await engine.dispose()
    return _entry("feedback apply-retention (behaviour limit, holds checked)", ROWS, seconds, baseline)


async def _main() -> list[dict]:
    prefix = f"{databases.PREFIX}_govbench"
    urls = await databases.recreate(prefix=prefix)
    for component in ("profile", "consent", "feedback", "churn"):
        spec = spec_of(component)
        await asyncio.to_thread(upgrade, spec.migrations, urls[component], spec.metadata)
    print(f"governance jobs, {ROWS:,} rows per cell (PostgreSQL at {databases.ADMIN_URL.rsplit('@', 1)[-1]})")
    return [
        await bench_retier(urls["profile"]),
        await bench_mark_dormant(urls["profile"]),
        *await bench_book_triggers(urls["profile"]),
        await bench_expire_consents(urls["consent"]),
        await bench_expire_points(urls["churn"]),
        await bench_retention(urls["feedback"]),
    ]


def main() -> list[dict]:
    return asyncio.run(_main())


if __name__ == "__main__":
    main()
