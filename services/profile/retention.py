"""Retention (R2.2) in the profile service, per data category (declarations.py), and the
`apply-retention` job that enforces it (the shared mechanism: services/kit/retention.py).

- basic (identity and contact data): `PROFILE_RETENTION_DAYS` (JSON, days per category over the
  defaults of services/kit/retention.py), 1825 days (five years, AML record keeping) after the
  relationship ended, i.e. the latest `churned` row of `lifecycle_history` (a returning customer
  who churns again starts the clock again). The customer is then erased through
  `service.erase`, exactly like an erasure on request, and `customer.erased` is emitted.
- prospects who never became customers: erased `PROFILE_PROSPECT_RETENTION_DAYS` after creation.
- business and risk (assets, holdings, tier, risk level): kept as anonymous aggregates once the
  identifiers are gone; tier history is deleted at the business limit (`PROFILE_RETENTION_DAYS`).
- behaviour: the reasons written on lifecycle moves are destroyed at the behaviour limit (730
  days); behavioural data proper lives in churn and feedback, which expire it themselves.

A customer under legal hold (`legal_holds`) is never erased or expired here.

Audit records (who read or changed what) are not erased: the trail is append-only and kept as
legally required; it holds field names and a random customer id, never values.

The job does a bounded batch per run, each its own transaction. On PostgreSQL the batch is
locked with SKIP LOCKED, so replicas running it at once, or a request editing a customer,
never erase the same customer twice or wait on each other. Personal data is never decrypted:
only the columns erasure reads are loaded.
"""

from datetime import timedelta
from functools import partial

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import load_only

from events.contracts import CustomerErasedV1
from events.contracts.terms import Stage
from services.kit.clock import now
from services.kit.identity import Actor
from services.kit.jobs import PeriodicJob
from services.kit.retention import RetentionRule, apply_rule, not_on_hold
from services.profile import service
from services.profile.declarations import Category
from services.profile.models import Customer, StageChange, TierChange, legal_holds, outbox
from services.profile.settings import ProfileSettings

JOB_NAME = "apply-retention"
JOB_ACTOR = Actor(f"job:{JOB_NAME}", "system", scope=None, reason=None)


def retention_days(settings: ProfileSettings) -> dict[Category, int]:
    """The policy in force (configured over the defaults, validated when settings are read)."""
    return {Category(name): days for name, days in settings.retention_days.items()}


def relationship_ended_at():
    """When the customer last became `churned` (correlated with the enclosing customer row)."""
    return (
        sa.select(sa.func.max(StageChange.at))
        .where(StageChange.customer_id == Customer.id, StageChange.to_stage == Stage.CHURNED.value)
        .scalar_subquery()
    )


async def _erase_due(sessions: async_sessionmaker[AsyncSession], condition, reason: str, batch_size: int) -> int:
    query = (
        sa.select(Customer)
        # Only what erasure reads: the personal data it destroys is never decrypted.
        .options(load_only(Customer.id, Customer.lifecycle_stage, Customer.version, Customer.erased_at))
        .where(Customer.erased_at.is_(None), condition, not_on_hold(legal_holds, Customer.id))
        .order_by(Customer.id)
        .limit(batch_size)
        .with_for_update(of=Customer, skip_locked=True)
    )
    async with sessions() as session, session.begin():
        due = list(await session.scalars(query))
        for customer in due:
            await service.erase(session, customer, JOB_ACTOR, reason)
    return len(due)


async def apply_retention(sessions: async_sessionmaker[AsyncSession], *, days: int, batch_size: int = 200) -> int:
    """Erase up to `batch_size` customers whose relationship ended more than `days` days ago;
    returns how many were erased (0 once none is due)."""
    ended = sa.and_(
        Customer.lifecycle_stage == Stage.CHURNED.value, relationship_ended_at() <= now() - timedelta(days=days)
    )
    reason = f"retention policy: basic data kept {days} days after the relationship ended (R2.2)"
    return await _erase_due(sessions, ended, reason, batch_size)


async def expire_prospects(sessions: async_sessionmaker[AsyncSession], *, days: int, batch_size: int = 200) -> int:
    """Erase prospects created more than `days` days ago who never became customers."""
    stale = sa.and_(
        Customer.lifecycle_stage == Stage.PROSPECT.value, Customer.created_at <= now() - timedelta(days=days)
    )
    return await _erase_due(sessions, stale, f"retention policy: prospects kept {days} days (R2.2)", batch_size)


RULES = [
    RetentionRule(
        "lifecycle-reasons",
        StageChange.__table__,
        Category.BEHAVIOUR,
        since=StageChange.at,
        customer=StageChange.customer_id,
        erase={"reason": None},
    ),
    RetentionRule(
        "tier-history", TierChange.__table__, Category.BUSINESS, since=TierChange.at, customer=TierChange.customer_id
    ),
]


async def apply_all(sessions: async_sessionmaker[AsyncSession], settings: ProfileSettings) -> int:
    batch = settings.retention_batch_size
    handled = await apply_retention(sessions, days=retention_days(settings)[Category.BASIC], batch_size=batch)
    handled += await expire_prospects(sessions, days=settings.prospect_retention_days, batch_size=batch)
    for rule in RULES:
        async with sessions() as session, session.begin():
            handled += await apply_rule(session, rule, retention_days(settings)[rule.category], legal_holds, batch)
    return handled


async def reannounce_erasures(
    sessions: async_sessionmaker[AsyncSession], *, every_days: float, for_days: float, batch_size: int = 500
) -> int:
    """Reconciliation: announce `customer.erased` again (`replayed`) for customers erased within
    the last `for_days` whose last announcement is `every_days` old. With `every_days` below the
    topic retention, a consumer that was away longer than the topic keeps messages still finds
    each erasure on the topic when it returns, and applies it (the handlers are idempotent)."""
    moment = now()
    query = (
        sa.select(Customer.id, Customer.erased_at)
        .where(
            Customer.erased_at.is_not(None),
            Customer.erased_at > moment - timedelta(days=for_days),
            Customer.erasure_announced_at <= moment - timedelta(days=every_days),
        )
        .order_by(Customer.id)
        .limit(batch_size)
        .with_for_update(of=Customer, skip_locked=True)
    )
    async with sessions() as session, session.begin():
        due = (await session.execute(query)).all()
        if due:
            await outbox.emit_many(
                session,
                [
                    ("customer.erased", CustomerErasedV1(customer_id=row.id, erased_at=row.erased_at, replayed=True))
                    for row in due
                ],
            )
            await session.execute(
                sa.update(Customer)
                .where(Customer.id.in_([row.id for row in due]))
                .values(erasure_announced_at=moment)
                .execution_options(synchronize_session=False)
            )
    return len(due)


def reannounce_erasures_job(settings: ProfileSettings) -> PeriodicJob:
    return PeriodicJob(
        name="reannounce-erasures",
        every_seconds=3600,
        run=partial(
            reannounce_erasures,
            every_days=settings.erasure_reannounce_every_days,
            for_days=settings.erasure_reannounce_for_days,
        ),
    )


def apply_retention_job(settings: ProfileSettings) -> PeriodicJob:
    return PeriodicJob(name=JOB_NAME, every_seconds=3600, run=partial(apply_all, settings=settings))
