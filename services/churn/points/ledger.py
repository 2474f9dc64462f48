"""The loyalty points ledger: integer movements, one per source (an event id, a task, a
caller's request id), the balance kept beside them under a row lock.

Every movement locks the customer's account row (SELECT ... FOR UPDATE), checks the balance,
inserts the movement and updates the balance in one transaction, so two redemptions at once
run one after the other and the second sees what the first left; `CHECK (balance >= 0)` is the
last guard. A source seen before returns the movement it made, unchanged.

Points added expire after a while; spending takes the oldest points first, so what lapses at a
moment is what was added before it and not yet spent (see `expire_due`).
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.store import upsert_insert
from services.churn.points.models import PointsAccount, PointsMovement
from services.kit.clock import now
from services.kit.problems import Conflict

EXPIRY_BATCH = 100


class InsufficientPoints(Conflict):
    title = "Not enough points"


class SourceReused(Conflict):
    title = "Request id already used"


async def _locked_account(session: AsyncSession, customer_id: str) -> PointsAccount:
    await session.execute(
        upsert_insert(session, PointsAccount)
        .values(customer_id=customer_id, balance=0, updated_at=now())
        .on_conflict_do_nothing(index_elements=["customer_id"])
    )
    query = (
        sa.select(PointsAccount)
        .where(PointsAccount.customer_id == customer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).one()


async def _by_source(session: AsyncSession, source_id: str) -> PointsMovement | None:
    return await session.scalar(sa.select(PointsMovement).where(PointsMovement.source_id == source_id))


async def move(
    session: AsyncSession,
    *,
    customer_id: str,
    kind: str,
    points: int,
    source_id: str,
    reason: str,
    expires_at: datetime | None = None,
) -> tuple[PointsMovement, bool]:
    """Record a movement in the caller's transaction; (movement, False) when `source_id` was
    recorded before (nothing changes). Raises InsufficientPoints rather than overspend."""
    account = await _locked_account(session, customer_id)
    existing = await _by_source(session, source_id)  # after the lock: sees a concurrent twin's commit
    if existing is not None:
        if existing.customer_id != customer_id or existing.points != points or existing.kind != kind:
            raise SourceReused("This request id was already used for another movement; send a new one.")
        return existing, False
    if account.balance + points < 0:
        raise InsufficientPoints(
            f"The balance is {account.balance} points; at most that many can be taken.", balance=account.balance
        )
    movement = PointsMovement(
        customer_id=customer_id,
        kind=kind,
        points=points,
        source_id=source_id,
        reason=reason,
        created_at=now(),
        expires_at=expires_at if points > 0 else None,
    )
    session.add(movement)
    account.balance += points
    account.updated_at = movement.created_at
    await session.flush()
    return movement, True


async def earn(
    session: AsyncSession, *, customer_id: str, points: int, source_id: str, reason: str, valid_days: int
) -> tuple[PointsMovement, bool] | None:
    if points <= 0:
        return None
    return await move(
        session,
        customer_id=customer_id,
        kind="earn",
        points=points,
        source_id=source_id,
        reason=reason,
        expires_at=now() + timedelta(days=valid_days),
    )


def _lapsing(at: datetime):
    """Per customer: points added that lapse by `at`, less everything taken so far (oldest first)."""
    added_and_due = sa.func.sum(
        sa.case((sa.and_(PointsMovement.points > 0, PointsMovement.expires_at <= at), PointsMovement.points), else_=0)
    )
    taken = sa.func.sum(sa.case((PointsMovement.points < 0, PointsMovement.points), else_=0))
    return added_and_due + taken


async def expire_due(sessions: async_sessionmaker[AsyncSession]) -> int:
    """The scheduled expiry: one `expire` movement per customer with lapsed points (bounded batch)."""
    at = now()
    async with sessions() as session:
        due = (
            (
                await session.execute(
                    sa.select(PointsMovement.customer_id)
                    .group_by(PointsMovement.customer_id)
                    .having(_lapsing(at) > 0)
                    .limit(EXPIRY_BATCH)
                )
            )
            .scalars()
            .all()
        )
    handled = 0
    for customer_id in due:
        async with sessions() as session, session.begin():
            await _locked_account(session, customer_id)
            lapsing, last_lot = (
                await session.execute(
                    sa.select(
                        _lapsing(at),
                        sa.func.max(
                            sa.case(
                                (sa.and_(PointsMovement.points > 0, PointsMovement.expires_at <= at), PointsMovement.id)
                            )
                        ),
                    ).where(PointsMovement.customer_id == customer_id)
                )
            ).one()
            if lapsing and lapsing > 0:
                # One expiry per last lapsed lot: a second run (or replica) finds the source taken.
                _, created = await move(
                    session,
                    customer_id=customer_id,
                    kind="expire",
                    points=-int(lapsing),
                    source_id=f"expiry:{customer_id}:{last_lot}",
                    reason="expired",
                )
                handled += int(created)
    return handled


async def balance(session: AsyncSession, customer_id: str) -> PointsAccount | None:
    return await session.get(PointsAccount, customer_id)


async def history(session: AsyncSession, customer_id: str, *, limit: int, before: int | None) -> list[PointsMovement]:
    query = sa.select(PointsMovement).where(PointsMovement.customer_id == customer_id)
    if before is not None:
        query = query.where(PointsMovement.id < before)
    return list(await session.scalars(query.order_by(PointsMovement.id.desc()).limit(limit)))
