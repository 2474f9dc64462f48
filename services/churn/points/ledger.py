"""The loyalty points ledger: integer movements, one per source (an event id, a task, a
caller's request id), the balance kept beside them under a row lock.

Every movement locks the customer's account row (SELECT ... FOR UPDATE), checks the balance,
inserts the movement and updates the balance in one transaction, so two redemptions at once
run one after the other and the second sees what the first left; `CHECK (balance >= 0)` is the
last guard. A source seen before returns the movement it made, unchanged.

Points added expire after a while; spending takes the oldest points first, so what lapses at a
moment is what was added before it and not yet spent (see `PointsExpiry`).
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.store import upsert_insert
from services.churn.points.models import PointsAccount, PointsMovement
from services.kit.clock import now
from services.kit.problems import Conflict

EXPIRY_BATCH = 500


class InsufficientPoints(Conflict):
    title = "Not enough points"


class SourceReused(Conflict):
    title = "Request id already used"


async def _open_accounts(session: AsyncSession, customer_ids: list[str], at: datetime) -> None:
    """An empty account for each of these customers who has none (the others' are untouched).
    Rows as parameters (executemany): compiled once, whatever their number."""
    await session.execute(
        upsert_insert(session, PointsAccount.__table__).on_conflict_do_nothing(index_elements=["customer_id"]),
        [{"customer_id": customer_id, "balance": 0, "updated_at": at} for customer_id in customer_ids],
    )


async def _locked_account(session: AsyncSession, customer_id: str) -> PointsAccount:
    await _open_accounts(session, [customer_id], now())
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


class PointsExpiry:
    """The scheduled expiry (a job: `PeriodicJob(run=PointsExpiry())`): one `expire` movement per
    customer with lapsed points. A run takes the next EXPIRY_BATCH such customers after the last
    one the previous run took, in customer id order, and expires them together in one
    transaction. A pass over the book thus walks the ledger once, along its customer index,
    instead of aggregating the whole ledger again for every batch; a run that finds fewer ends
    the pass, and the next one starts a new pass, which finds whoever lapsed meanwhile."""

    def __init__(self) -> None:
        self.after = ""  # the last customer id the pass has reached

    async def __call__(self, sessions: async_sessionmaker[AsyncSession]) -> int:
        """Customers this run found with lapsed points (expired now, or by another replica)."""
        at = now()
        async with sessions() as session:
            due = (
                (
                    await session.execute(
                        sa.select(PointsMovement.customer_id)
                        .where(PointsMovement.customer_id > self.after)
                        .group_by(PointsMovement.customer_id)
                        .having(_lapsing(at) > 0)
                        .order_by(PointsMovement.customer_id)
                        .limit(EXPIRY_BATCH)
                    )
                )
                .scalars()
                .all()
            )
        if due:
            async with sessions() as session, session.begin():
                await _expire(session, list(due), at)
        self.after = due[-1] if len(due) == EXPIRY_BATCH else ""
        return len(due)


async def _expire(session: AsyncSession, customers: list[str], at: datetime) -> None:
    """The lapsed points of `customers`, each taken by one movement, in the caller's transaction:
    their accounts locked (in id order, so two replicas at once queue rather than deadlock), what
    lapsed counted after the locks (so a twin's expiry, committed first, leaves nothing), one
    INSERT of the movements and one UPDATE of the balances."""
    # Each statement takes its rows as parameters (executemany): compiled once and cached, where
    # rows written into the statement made a new statement to compile for every batch.
    accounts, ledger = PointsAccount.__table__, PointsMovement.__table__
    await _open_accounts(session, customers, at)
    await session.execute(
        sa.select(PointsAccount.customer_id)
        .where(PointsAccount.customer_id.in_(customers))
        .order_by(PointsAccount.customer_id)
        .with_for_update()
    )
    last_lapsed_lot = sa.func.max(
        sa.case((sa.and_(PointsMovement.points > 0, PointsMovement.expires_at <= at), PointsMovement.id))
    )
    lapsing = (
        await session.execute(
            sa.select(PointsMovement.customer_id, _lapsing(at), last_lapsed_lot)
            .where(PointsMovement.customer_id.in_(customers))
            .group_by(PointsMovement.customer_id)
        )
    ).all()
    movements = [
        {
            "customer_id": customer_id,
            "kind": "expire",
            "points": -int(points),
            # One expiry per last lapsed lot: a second run (or replica) finds the source taken.
            "source_id": f"expiry:{customer_id}:{last_lot}",
            "reason": "expired",
            "created_at": at,
        }
        for customer_id, points, last_lot in lapsing
        if points and points > 0
    ]
    if not movements:
        return
    taken = (
        await session.execute(
            upsert_insert(session, ledger)
            .on_conflict_do_nothing(index_elements=["source_id"])
            .returning(ledger.c.customer_id, ledger.c.points),
            movements,
        )
    ).all()
    if taken:
        await session.execute(
            accounts.update()
            .where(accounts.c.customer_id == sa.bindparam("who"))
            .values(balance=accounts.c.balance + sa.bindparam("points"), updated_at=at),
            [{"who": customer_id, "points": points} for customer_id, points in taken],
        )


async def balance(session: AsyncSession, customer_id: str) -> PointsAccount | None:
    return await session.get(PointsAccount, customer_id)


async def history(session: AsyncSession, customer_id: str, *, limit: int, before: int | None) -> list[PointsMovement]:
    query = sa.select(PointsMovement).where(PointsMovement.customer_id == customer_id)
    if before is not None:
        query = query.where(PointsMovement.id < before)
    return list(await session.scalars(query.order_by(PointsMovement.id.desc()).limit(limit)))
