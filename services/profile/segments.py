"""Segmentation the handbook describes (R1.1, R4.1): households with their combined assets,
activity from events (tiers, dormancy), re-tiering when thresholds change, and the service plan
of each tier made real: review tasks at the plan's cadence.

Jobs (each a bounded batch per run, replicas skipping rows another holds):
- `retier`: every customer whose stored tier differs from what the thresholds in force, their
  holdings and activity give (so lowering a threshold re-tiers existing customers), with history
  and `customer.tier_changed`;
- `mark-dormant`: active customers without activity for `dormant_after_days` become dormant;
- `schedule-reviews`: each customer with no open review gets one, due at their plan's cadence
  after the last completed review (or after becoming a customer).
"""

import uuid
from datetime import date, datetime, timedelta
from functools import partial

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, load_only, mapped_column

from events.contracts import ComplaintOpenedV1, ConsentGrantedV1, CustomerTierChangedV1, FeedbackReceivedV1
from events.contracts.envelope import Envelope
from events.contracts.terms import Stage, Tier
from services.kit.clock import now
from services.kit.db import UTCDateTime
from services.kit.identity import Actor
from services.kit.jobs import PeriodicJob
from services.kit.params import IdField
from services.kit.problems import Conflict, NotFound
from services.profile import service
from services.profile.models import Base, Customer, TierChange, audit, outbox
from services.profile.settings import ProfileSettings
from services.profile.tiers import SERVICE_PLANS, add_months, tier_sql

# --- Models -------------------------------------------------------------------------------


class Household(Base):
    __tablename__ = "households"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HouseholdMember(Base):
    """A customer belongs to one household at most."""

    __tablename__ = "household_members"

    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), primary_key=True)
    household_id: Mapped[str] = mapped_column(sa.ForeignKey("households.id"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ServiceReview(Base):
    """A review the customer's tier plan calls for (R4.1): due on a date, done by someone."""

    __tablename__ = "service_reviews"
    __table_args__ = (
        sa.Index(
            "ix_service_reviews_open",
            "customer_id",
            postgresql_where=sa.text("done_at IS NULL"),
            sqlite_where=sa.text("done_at IS NULL"),
            unique=True,
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    tier: Mapped[str] = mapped_column(sa.String(20))
    due_on: Mapped[date] = mapped_column(sa.Date(), index=True)
    assigned_to: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(sa.String(128))


# --- Schemas ------------------------------------------------------------------------------


class HouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[IdField] = Field(min_length=1, max_length=20, description="Customers joining this one's household.")


class MemberOut(BaseModel):
    """Tier and assets are null for a member the caller may not see (another manager's, or, for
    a customer, anyone but themselves: they see the household's total only)."""

    customer_id: str
    tier: Tier | None
    assets_under_management: str | None
    joined_at: datetime


class HouseholdOut(BaseModel):
    id: str
    members: list[MemberOut]
    combined_assets: str = Field(description="Sum of every member's assets under management, reporting currency.")
    created_at: datetime


class TierChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_tier: Tier | None
    to_tier: Tier
    at: datetime


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    tier: Tier
    due_on: date
    assigned_to: str | None
    done_at: datetime | None
    done_by: str | None


# --- Households ---------------------------------------------------------------------------

HOUSEHOLD_FIELDS = ["household", "tier", "assets_under_management"]


async def household_of(
    session: AsyncSession, customer: Customer, actor: Actor, settings: ProfileSettings
) -> HouseholdOut:
    household_id = await session.scalar(
        sa.select(HouseholdMember.household_id).where(HouseholdMember.customer_id == customer.id)
    )
    if household_id is None:
        raise NotFound("This customer belongs to no household.")
    household = await session.get_one(Household, household_id)  # a member's household exists (foreign key)
    rows = (
        await session.execute(
            sa.select(HouseholdMember, Customer)
            .join(Customer, Customer.id == HouseholdMember.customer_id)
            .options(
                load_only(
                    Customer.tier, Customer.assets_under_management, Customer.relationship_manager_id, raiseload=True
                )
            )
            .where(HouseholdMember.household_id == household_id)
            .order_by(HouseholdMember.joined_at, HouseholdMember.customer_id)
        )
    ).all()
    shown = {
        c.id
        for _, c in rows
        if service.may_see(actor, c, settings) and (actor.role not in settings.self_scoped_roles or c.id == actor.id)
    }
    await audit.record_many(
        session,
        actor=actor.id,
        role=actor.role,
        action="household_read",
        customer_ids=sorted(shown),
        fields=HOUSEHOLD_FIELDS,
        reason=actor.reason,
    )
    return HouseholdOut(
        id=household.id,
        created_at=household.created_at,
        combined_assets=str(sum((c.assets_under_management for _, c in rows), start=0)),
        members=[
            MemberOut(
                customer_id=c.id,
                joined_at=m.joined_at,
                tier=c.tier if c.id in shown else None,
                assets_under_management=str(c.assets_under_management) if c.id in shown else None,
            )
            for m, c in rows
        ],
    )


async def join_household(
    session: AsyncSession, customer: Customer, members: list[Customer], actor: Actor, settings: ProfileSettings
) -> HouseholdOut:
    """`members` join the customer's household (created if the customer has none). A member
    already in another household is refused: they leave it first."""
    current = await session.scalar(
        sa.select(HouseholdMember.household_id).where(HouseholdMember.customer_id == customer.id)
    )
    moment = now()
    if current is None:
        current = str(uuid.uuid4())
        session.add(Household(id=current, created_at=moment))
        session.add(HouseholdMember(customer_id=customer.id, household_id=current, joined_at=moment))
    elsewhere = list(
        await session.scalars(
            sa.select(HouseholdMember.customer_id).where(
                HouseholdMember.customer_id.in_([m.id for m in members]), HouseholdMember.household_id != current
            )
        )
    )
    if elsewhere:
        raise Conflict(f"Already in another household: {', '.join(sorted(elsewhere))}; they must leave it first.")
    known = set(
        await session.scalars(sa.select(HouseholdMember.customer_id).where(HouseholdMember.household_id == current))
    )
    for member in members:
        if member.id not in known:
            session.add(HouseholdMember(customer_id=member.id, household_id=current, joined_at=moment))
            known.add(member.id)
    await session.flush()
    await audit.record_many(
        session,
        actor=actor.id,
        role=actor.role,
        action="household_join",
        customer_ids=sorted(known),
        fields=["household"],
        reason=actor.reason,
    )
    return await household_of(session, customer, actor, settings)


async def leave_household(session: AsyncSession, customer_id: str, actor: Actor | None = None) -> None:
    """The customer leaves their household; a household left with one member or none ends."""
    household_id = await session.scalar(
        sa.select(HouseholdMember.household_id).where(HouseholdMember.customer_id == customer_id)
    )
    if household_id is None:
        if actor is None:
            return
        raise NotFound("This customer belongs to no household.")
    await session.execute(sa.delete(HouseholdMember).where(HouseholdMember.customer_id == customer_id))
    left = list(
        await session.scalars(
            sa.select(HouseholdMember.customer_id).where(HouseholdMember.household_id == household_id)
        )
    )
    if len(left) <= 1:
        await session.execute(sa.delete(HouseholdMember).where(HouseholdMember.household_id == household_id))
        await session.execute(sa.delete(Household).where(Household.id == household_id))
    if actor is not None:
        await audit.record(
            session,
            actor=actor.id,
            role=actor.role,
            action="household_leave",
            customer_id=customer_id,
            fields=["household"],
            reason=actor.reason,
        )


# --- Activity -----------------------------------------------------------------------------


async def on_activity(
    session: AsyncSession, envelope: Envelope, payload: FeedbackReceivedV1 | ComplaintOpenedV1 | ConsentGrantedV1
) -> None:
    """The customer interacted with the bank: note when (an older event never moves it back),
    and a dormant customer is active again."""
    await session.execute(
        sa.update(Customer)
        .where(
            Customer.id == payload.customer_id,
            Customer.erased_at.is_(None),
            sa.or_(Customer.last_activity_at.is_(None), Customer.last_activity_at < envelope.time),
        )
        .values(last_activity_at=envelope.time)
        .execution_options(synchronize_session=False)
    )
    customer = await session.get(Customer, payload.customer_id, with_for_update=True)
    if customer is not None and customer.erased_at is None and customer.lifecycle_stage == Stage.DORMANT:
        await service.move_stage(session, customer, Stage.ACTIVE, ACTIVITY, "activity after dormancy")


ACTIVITY = Actor("job:activity", "system", None, None)
HANDLERS = {"feedback.received": on_activity, "complaint.opened": on_activity, "consent.granted": on_activity}

# --- Jobs ---------------------------------------------------------------------------------

DORMANCY = Actor("job:mark-dormant", "system", None, None)


async def retier_all(
    sessions: async_sessionmaker[AsyncSession], *, settings: ProfileSettings, batch_size: int = 500
) -> int:
    """Re-tier up to `batch_size` customers whose tier differs from what the rule gives now: the
    new tiers, their history rows and `customer.tier_changed` events written in a few statements
    for the whole batch; customers entering high-net-worth then get their advisor one by one."""
    moment = now()
    c = Customer.__table__
    computed = tier_sql(
        c.c.assets_under_management,
        c.c.product_holdings,
        c.c.last_activity_at,
        policy=settings.tier_policy(),
        moment=moment,
    )
    query = (
        sa.select(c.c.id, c.c.tier, computed.label("new_tier"))
        .where(c.c.erased_at.is_(None), c.c.tier != computed)
        .order_by(c.c.id)
        .limit(batch_size)
        .with_for_update(of=c, skip_locked=True)
    )
    async with sessions() as session, session.begin():
        due = (await session.execute(query)).all()
        if not due:
            return 0
        # One UPDATE per new tier, not one per customer: on PostgreSQL each statement runs the
        # customer book's statement trigger once (book.py), about a millisecond however few rows.
        by_tier: dict[str, list[str]] = {}
        for row in due:
            by_tier.setdefault(row.new_tier, []).append(row.id)
        for new_tier, ids in sorted(by_tier.items()):
            await session.execute(
                sa.update(c)
                .where(c.c.id.in_(ids))
                .values(tier=new_tier, version=c.c.version + 1, updated_at=moment)
                .execution_options(synchronize_session=False)
            )
        await session.execute(
            sa.insert(TierChange),
            [{"customer_id": row.id, "from_tier": row.tier, "to_tier": row.new_tier, "at": moment} for row in due],
        )
        await outbox.emit_many(
            session,
            [
                (
                    "customer.tier_changed",
                    CustomerTierChangedV1(customer_id=row.id, previous_tier=row.tier, tier=row.new_tier),
                )
                for row in due
            ],
        )
        for row in due:
            if row.new_tier == Tier.HIGH_NET_WORTH.value:
                await service.assign_advisor(session, await session.get_one(Customer, row.id), settings)
    return len(due)


async def mark_dormant(sessions: async_sessionmaker[AsyncSession], *, days: int, batch_size: int = 200) -> int:
    query = (
        sa.select(Customer)
        .options(load_only(Customer.id, Customer.lifecycle_stage, Customer.version))
        .where(
            Customer.erased_at.is_(None),
            Customer.lifecycle_stage == Stage.ACTIVE.value,
            sa.func.coalesce(Customer.last_activity_at, Customer.created_at) <= now() - timedelta(days=days),
        )
        .order_by(Customer.id)
        .limit(batch_size)
        .with_for_update(of=Customer, skip_locked=True)
    )
    async with sessions() as session, session.begin():
        due = list(await session.scalars(query))
        await service.move_stages(session, due, Stage.DORMANT, DORMANCY, f"no activity for {days} days")
    return len(due)


async def schedule_reviews(sessions: async_sessionmaker[AsyncSession], *, batch_size: int = 500) -> int:
    """An open review for each onboarding, active or dormant customer that has none."""
    r = ServiceReview
    last_done = sa.select(sa.func.max(r.done_at)).where(r.customer_id == Customer.id).scalar_subquery()
    query = (
        sa.select(
            Customer.id,
            Customer.tier,
            Customer.relationship_manager_id,
            Customer.created_at,
            last_done.label("last_done"),
        )
        .where(
            Customer.erased_at.is_(None),
            Customer.lifecycle_stage.in_([Stage.ONBOARDING.value, Stage.ACTIVE.value, Stage.DORMANT.value]),
            ~sa.exists().where(r.customer_id == Customer.id, r.done_at.is_(None)),
        )
        .order_by(Customer.id)
        .limit(batch_size)
        .with_for_update(of=Customer, skip_locked=True)
    )
    moment = now()
    async with sessions() as session, session.begin():
        rows = (await session.execute(query)).all()
        for row in rows:
            months = SERVICE_PLANS[Tier(row.tier)]["review_every_months"]
            since = row.last_done or row.created_at
            session.add(
                ServiceReview(
                    id=str(uuid.uuid4()),
                    customer_id=row.id,
                    tier=row.tier,
                    due_on=add_months(since.date(), months),
                    assigned_to=row.relationship_manager_id,
                    created_at=moment,
                )
            )
    return len(rows)


async def complete_review(session: AsyncSession, customer: Customer, review_id: str, actor: Actor) -> ServiceReview:
    review = await session.get(ServiceReview, review_id, with_for_update=True)
    if review is None or review.customer_id != customer.id:
        raise NotFound("This customer has no review with this id.")
    if review.done_at is not None:
        raise Conflict("This review is already done.")
    review.done_at, review.done_by = now(), actor.id
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="review_done",
        customer_id=customer.id,
        fields=["service_review"],
        reason=actor.reason,
    )
    return review


def jobs(settings: ProfileSettings) -> list[PeriodicJob]:
    return [
        PeriodicJob(name="retier", every_seconds=600, run=partial(retier_all, settings=settings)),
        PeriodicJob(
            name="mark-dormant", every_seconds=3600, run=partial(mark_dormant, days=settings.dormant_after_days)
        ),
        PeriodicJob(name="schedule-reviews", every_seconds=3600, run=schedule_reviews),
    ]
