"""Retention (R2.2): how long customer data is kept once the relationship has ended, per data
category (declarations.py), and the `apply-retention` job that enforces it.

The relationship ends when the customer reaches lifecycle stage `churned`; the moment is the
latest `churned` row of `lifecycle_history` (a returning customer who churns again starts the
clock again). Limits are configuration, `PROFILE_RETENTION_DAYS_AFTER_RELATIONSHIP_ENDS` (JSON,
days per category, merged over the defaults in ProfileSettings):

- basic (identity and contact data) — 1825 days, five years, the AML record-keeping period.
  Enforced here: once it has passed, the customer is erased through `service.erase`, exactly
  like an erasure on request. Identifiers (encrypted fields, blind indexes, document numbers,
  the core-banking reference, related-party links) are destroyed; `customer.erased` is emitted.
- business and risk (assets, holdings, tier, risk level) — 1825 days. The profile keeps them
  after erasure as anonymous aggregates: with the identifiers gone they no longer relate to a
  person, so they are anonymised at the basic limit. A longer figure changes nothing here; a
  shorter one cannot be honoured without breaking the basic (AML) period.
- behaviour — 730 days. The profile's only behavioural field, `lifecycle_stage`, is kept as an
  aggregate. Behavioural data proper lives in churn (features, deleted) and feedback (free
  text, destroyed), which honour `customer.erased`, so it is gone at the basic limit at the
  latest; the shorter 730-day limit needs a job of their own in those services.

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

from services.kit.clock import now
from services.kit.identity import Actor
from services.kit.jobs import PeriodicJob
from services.profile import service
from services.profile.declarations import Category
from services.profile.models import Customer, StageChange
from services.profile.settings import ProfileSettings
from services.profile.tiers import Stage

JOB_NAME = "apply-retention"
JOB_ACTOR = Actor(f"job:{JOB_NAME}", "system", scope=None, reason=None)


def retention_days(settings: ProfileSettings) -> dict[Category, int]:
    """The policy in force: configured limits over the defaults; unknown categories and
    negative limits are refused (at start-up, since the job is built then)."""
    field = ProfileSettings.model_fields["retention_days_after_relationship_ends"]
    configured = settings.retention_days_after_relationship_ends
    unknown = sorted(set(configured) - set(Category))
    if unknown:
        raise ValueError(f"retention limits for unknown data categories {unknown}; known: {sorted(Category)}")
    policy = {Category(name): days for name, days in {**field.default, **configured}.items()}
    if negative := sorted(name for name, days in policy.items() if days < 0):
        raise ValueError(f"retention limits must be zero or more days: {negative}")
    return policy


def relationship_ended_at():
    """When the customer last became `churned` (correlated with the enclosing customer row)."""
    return (
        sa.select(sa.func.max(StageChange.at))
        .where(StageChange.customer_id == Customer.id, StageChange.to_stage == Stage.CHURNED.value)
        .scalar_subquery()
    )


async def apply_retention(
    sessions: async_sessionmaker[AsyncSession], *, days: int, batch_size: int = 200
) -> int:
    """Erase up to `batch_size` customers whose relationship ended more than `days` days ago;
    returns how many were erased (0 once none is due)."""
    query = (
        sa.select(Customer)
        # Only what erasure reads: the personal data it destroys is never decrypted.
        .options(load_only(Customer.id, Customer.lifecycle_stage, Customer.version, Customer.erased_at))
        .where(
            Customer.erased_at.is_(None),
            Customer.lifecycle_stage == Stage.CHURNED.value,
            relationship_ended_at() <= now() - timedelta(days=days),
        )
        .order_by(Customer.id)
        .limit(batch_size)
        .with_for_update(of=Customer, skip_locked=True)
    )
    reason = f"retention policy: basic data kept {days} days after the relationship ended (R2.2)"
    async with sessions() as session, session.begin():
        due = list(await session.scalars(query))
        for customer in due:
            await service.erase(session, customer, JOB_ACTOR, reason)
    return len(due)


def apply_retention_job(settings: ProfileSettings) -> PeriodicJob:
    return PeriodicJob(
        name=JOB_NAME,
        every_seconds=3600,
        run=partial(apply_retention, days=retention_days(settings)[Category.BASIC],
                    batch_size=settings.retention_batch_size),
    )
