"""Retention (R2.2) in every component, per data category, and legal holds that suspend it.

A component lists its `RetentionRule`s: which rows of which table expire, counted from which
column, under which data category's limit (days from configuration: `<PREFIX>_RETENTION_DAYS`,
JSON, merged over `DEFAULT_RETENTION_DAYS`), and what expiry does (delete the row, or write the
catalogue's erased values over it). One shared job, `apply-retention`, applies every rule in
bounded batches, each its own transaction, skipping rows other replicas have locked.

Legal holds: the profile service places and releases them (`PUT`/`DELETE
/api/v1/customers/{id}/legal-hold`) and announces them (`customer.legal_hold_placed`,
`customer.legal_hold_released`); every component keeps its own copy in `legal_holds` and no
rule touches a held customer's rows, and profile refuses to erase them.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.consumer import Handler
from events.contracts import CustomerLegalHoldPlacedV1, CustomerLegalHoldReleasedV1
from events.contracts.envelope import Envelope
from events.store import upsert_insert
from services.kit.catalogue import Category
from services.kit.clock import now
from services.kit.db import ColumnLike, UTCDateTime
from services.kit.jobs import PeriodicJob

JOB_NAME = "apply-retention"
# Days each category is kept (R2.2): identity, business and risk data five years (AML record
# keeping), behavioural data two years.
DEFAULT_RETENTION_DAYS: dict[str, int] = {
    Category.BASIC: 1825,
    Category.BUSINESS: 1825,
    Category.RISK: 1825,
    Category.BEHAVIOUR: 730,
}


def retention_policy(configured: dict[str, int]) -> dict[str, int]:
    """The limits in force: configured over the defaults; unknown categories and negative limits
    are refused (at start-up, where settings are read)."""
    known = set(DEFAULT_RETENTION_DAYS)
    if unknown := sorted(set(configured) - known):
        raise ValueError(f"retention limits for unknown data categories {unknown}; known: {sorted(known)}")
    policy = {**DEFAULT_RETENTION_DAYS, **configured}
    if negative := sorted(name for name, days in policy.items() if days < 0):
        raise ValueError(f"retention limits must be zero or more days: {negative}")
    return {str(k): v for k, v in policy.items()}


# --- Legal holds ----------------------------------------------------------------------------


def _hold_columns() -> list[sa.Column]:
    return [
        sa.Column("customer_id", sa.String(64), primary_key=True),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
    ]


def add_legal_holds_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table("legal_holds", metadata, *_hold_columns())


def create_legal_holds_table(op) -> None:
    """For a component's migration."""
    op.create_table("legal_holds", *_hold_columns())


def not_on_hold(holds: sa.Table, customer_column) -> sa.ColumnElement[bool]:
    return ~sa.exists().where(holds.c.customer_id == customer_column)


async def place_hold(session: AsyncSession, holds: sa.Table, customer_id: str, reference: str) -> bool:
    """Record the hold; False when the customer was already on hold (the first hold stays)."""
    statement = (
        upsert_insert(session, holds)
        .values(customer_id=customer_id, reference=reference, placed_at=now())
        .on_conflict_do_nothing(index_elements=["customer_id"])
    )
    result = cast(CursorResult, await session.execute(statement))  # an INSERT's result has a rowcount
    return result.rowcount == 1


async def release_hold(session: AsyncSession, holds: sa.Table, customer_id: str) -> bool:
    result = cast(CursorResult, await session.execute(sa.delete(holds).where(holds.c.customer_id == customer_id)))
    return result.rowcount == 1


async def is_on_hold(session: AsyncSession, holds: sa.Table, customer_id: str) -> bool:
    return await session.scalar(sa.select(holds.c.reference).where(holds.c.customer_id == customer_id)) is not None


def legal_hold_handlers(holds: sa.Table) -> dict[str, Handler]:
    """Handlers keeping a component's copy of the holds from profile's events."""

    async def placed(session: AsyncSession, envelope: Envelope, payload: CustomerLegalHoldPlacedV1) -> None:
        await place_hold(session, holds, payload.customer_id, payload.reference)

    async def released(session: AsyncSession, envelope: Envelope, payload: CustomerLegalHoldReleasedV1) -> None:
        await release_hold(session, holds, payload.customer_id)

    return {"customer.legal_hold_placed": placed, "customer.legal_hold_released": released}


# --- Rules and the job ----------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionRule:
    """Rows of `table` older than their category's limit, counted from `since`, expire: they are
    deleted, or (with `erase`) the values `erase` gives are written over them."""

    name: str
    table: sa.Table
    category: Category
    since: ColumnLike
    # The column naming the row's customer (legal holds); None for rows about nobody.
    customer: ColumnLike | None
    where: tuple = ()
    erase: dict | None = None
    # Rows that must go first (e.g. history rows referring to the expiring row).
    dependents: tuple[tuple[sa.Table, ColumnLike], ...] = field(default=())

    def due(self, days: int, holds: sa.Table | None) -> sa.Select:
        pk = list(self.table.primary_key.columns)
        query = sa.select(*pk).where(self.since <= now() - timedelta(days=days), *self.where)
        if self.erase is not None:
            # Only rows still holding something to erase.
            query = query.where(sa.or_(*(self.table.c[name].is_not(None) for name in self.erase)))
        if holds is not None and self.customer is not None:
            query = query.where(not_on_hold(holds, self.customer))
        return query


async def apply_rule(
    session: AsyncSession, rule: RetentionRule, days: int, holds: sa.Table | None, batch_size: int
) -> int:
    (key,) = rule.table.primary_key.columns
    query = rule.due(days, holds).order_by(key).limit(batch_size)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=rule.table, skip_locked=True)
    ids = list(await session.scalars(query))
    if not ids:
        return 0
    for dependent, reference in rule.dependents:
        await session.execute(sa.delete(dependent).where(reference.in_(ids)))
    if rule.erase is None:
        await session.execute(sa.delete(rule.table).where(key.in_(ids)))
    else:
        await session.execute(sa.update(rule.table).where(key.in_(ids)).values(**rule.erase))
    return len(ids)


async def apply_retention(
    sessions: async_sessionmaker[AsyncSession],
    *,
    rules: list[RetentionRule],
    days: dict[str, int],
    holds: sa.Table | None,
    batch_size: int = 500,
) -> int:
    """One batch per rule, each its own transaction; returns how many rows expired (0: none due)."""
    handled = 0
    for rule in rules:
        async with sessions() as session, session.begin():
            handled += await apply_rule(session, rule, days[rule.category], holds, batch_size)
    return handled


def retention_job(
    rules: list[RetentionRule],
    days: dict[str, int],
    holds: sa.Table | None,
    *,
    batch_size: int = 500,
    name: str = JOB_NAME,
) -> PeriodicJob:
    return PeriodicJob(
        name=name,
        every_seconds=3600,
        run=partial(apply_retention, rules=rules, days=days, holds=holds, batch_size=batch_size),
    )
