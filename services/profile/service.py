"""The profile domain: what happens when a customer is created, changed, moved through the
lifecycle, reassigned or erased. Each function runs inside the caller's transaction and stages
its events in the outbox and its audit rows there, so all of it commits or none of it does."""

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any, cast

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from events.contracts import (
    CustomerCreatedV1,
    CustomerErasedV1,
    CustomerLegalHoldPlacedV1,
    CustomerLegalHoldReleasedV1,
    CustomerLifecycleChangedV1,
    CustomerManagerChangedV1,
    CustomerTierChangedV1,
    CustomerUpdatedV1,
)
from events.contracts.terms import Stage, Tier
from services.kit import crypto
from services.kit.clock import now
from services.kit.db import insert_many, session_factory
from services.kit.identity import Actor
from services.kit.problems import AuditUnavailable, Conflict, Gone, NotFound
from services.kit.retention import is_on_hold, place_hold, release_hold
from services.profile import book
from services.profile.declarations import CATALOGUE, FIELDS
from services.profile.documents import erase_documents_and_links
from services.profile.models import Customer, Holding, StageChange, TierChange, audit, legal_holds, outbox
from services.profile.schemas import CustomerCreate
from services.profile.screening import alerts as screening
from services.profile.screening import risk
from services.profile.settings import ProfileSettings
from services.profile.tiers import TRANSITIONS, tier_for

log = structlog.get_logger(__name__)

# Every declared field a customer response carries; those released in clear are recorded by name
# in the audit trail (Actor.released_in_clear).
RETURNED_FIELDS = [field.name for field in FIELDS]
# What erasure destroys on the customer row (the catalogue's `destroy` fields).
ERASED = CATALOGUE.erased_values("customers")


ADVISOR_ASSIGNMENT = Actor("job:assign-advisor", "system", None, "high-net-worth service plan: dedicated advisor")


def may_see(actor: Actor, customer: Customer, settings: ProfileSettings) -> bool:
    """A customer sees only their own record, relationship managers only the customers assigned
    to them. (The gateway scopes its callers so too; the service holds to it on its own.)"""
    if not actor.reaches(customer.id):
        return False
    return actor.role not in settings.assigned_only_roles or customer.relationship_manager_id == actor.id


async def get_visible(
    session: AsyncSession, customer_id: str, actor: Actor, settings: ProfileSettings, *, for_update: bool = False
) -> Customer:
    """The customer, if `actor` may see it; locked for the transaction when `for_update` (so two
    erasures, or an erasure and the retention job, cannot both act on it)."""
    return _visible(await session.get(Customer, customer_id, with_for_update=for_update), actor, settings)


def _visible(customer: Customer | None, actor: Actor, settings: ProfileSettings) -> Customer:
    if customer is None or not may_see(actor, customer, settings):
        raise NotFound("No customer has this id.")
    if customer.erased_at is not None:
        raise Gone("This customer's personal data was erased; only aggregates remain.")
    return customer


async def read_audited(engine: AsyncEngine, customer_id: str, actor: Actor, settings: ProfileSettings) -> Customer:
    """The customer, if `actor` may see it, with the read recorded in the audit trail (the fields
    the caller receives in clear, by name). On PostgreSQL one statement in one round trip on a
    connection of its own, outside a transaction: it reads the row and inserts the audit row
    exactly when the row is released (the same conditions as `_visible`), and commits both
    together; the row comes back as its columns (a Core row, read as a Customer is). Elsewhere, a
    transaction of two statements in a session. If the record cannot be committed, nothing is
    released (AuditUnavailable, 503)."""
    record: dict[str, Any] = {
        "actor": actor.id,
        "role": actor.role,
        "action": "read",
        "customer_id": customer_id,
        "fields": actor.released_in_clear(RETURNED_FIELDS),
        "reason": actor.reason,
    }
    try:
        if engine.dialect.name != "postgresql":
            async with session_factory(engine)() as session, session.begin():
                customer = await get_visible(session, customer_id, actor, settings)
                await audit.record(session, **record)
            return customer
        # As `may_see` holds it, but before the statement: it would record a read of a row that
        # `_visible` then refuses to release.
        if not actor.reaches(customer_id):
            raise NotFound("No customer has this id.")
        restricted = actor.role in settings.assigned_only_roles
        query, params = (_READ_ASSIGNED, {"manager": actor.id}) if restricted else (_READ_ANY, {})
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            found = await connection.execute(query, {"key": customer_id, **params, **audit.read_params(**record)})
            row = found.first()
    except DBAPIError as error:
        if error.connection_invalidated:
            raise  # a dead pooled connection: answered 503 and replaced (services/kit/problems.py)
        log.error("read_audit_failed", error_type=type(error.orig).__name__)
        raise AuditUnavailable() from None
    # Read by attribute exactly as a Customer is (same names, same decrypted values).
    return _visible(cast(Customer | None, row), actor, settings)


# The audited reads of one customer (read_audited), built once: released when not erased and,
# for roles that see only their assigned customers, assigned to the caller (as in `_visible`).
_READ_ANY = audit.audited_read(Customer, lambda c: c.id, lambda c: c.erased_at.is_(None))
_READ_ASSIGNED = audit.audited_read(
    Customer,
    lambda c: c.id,
    lambda c: sa.and_(c.erased_at.is_(None), c.relationship_manager_id == sa.bindparam("manager")),
)


async def create(session: AsyncSession, body: CustomerCreate, actor: Actor, settings: ProfileSettings) -> Customer:
    """A new customer, in the caller's transaction, which is to commit next: on PostgreSQL the
    last statement adds the customer to the book's sums (book.catch_up)."""
    keys = crypto.keyring()
    national_id_index, *previous = keys.blind_indexes(body.national_id, field="national_id")
    same_id = list(
        await session.scalars(sa.select(Customer).where(Customer.national_id_index.in_([national_id_index, *previous])))
    )
    if any(may_see(actor, c, settings) for c in same_id):
        raise Conflict("A customer with this national ID already exists; read or update that record instead.")
    # A customer the caller may not see has this national ID. Saying so would tell a manager who
    # banks with another manager; instead the new record is created as any other and flagged to
    # compliance, whose alert names both records (screening.flag_duplicate).
    duplicate_of = next((c.id for c in same_id if c.duplicate_of is None), None)
    if body.external_ref and await session.scalar(
        sa.select(Customer.id).where(Customer.external_ref == body.external_ref)
    ):
        raise Conflict("A customer with this external reference already exists.")
    moment = now()
    fields = body.model_dump()
    if actor.role in settings.assigned_only_roles:
        fields["relationship_manager_id"] = actor.id  # a manager's new customer is theirs
    # The customer goes into the book's sums just before the commit, not at the insert: screening
    # and risk rating come between, and every other creation would wait for the book's rows.
    deferred = await book.defer(session)
    customer = Customer(
        id=str(uuid.uuid4()),
        version=1,
        created_at=moment,
        updated_at=moment,
        national_id_index=national_id_index,
        phone_index=keys.blind_index(body.phone, field="phone"),
        key_id=keys.active_key_id,
        last_activity_at=moment,  # becoming a customer is an interaction
        duplicate_of=duplicate_of,
        tier=_tier(fields["assets_under_management"], fields["product_holdings"], moment, settings),
        **fields,
    )
    session.add(customer)
    session.add(
        StageChange(
            customer_id=customer.id,
            from_stage=None,
            to_stage=customer.lifecycle_stage,
            at=moment,
            actor=actor.id,
            reason="created",
        )
    )
    session.add(TierChange(customer_id=customer.id, from_tier=None, to_tier=customer.tier, at=moment))
    await session.flush()
    if customer.tier == Tier.HIGH_NET_WORTH:
        await assign_advisor(session, customer, settings)
    await outbox.emit(
        session,
        "customer.created",
        CustomerCreatedV1(
            customer_id=customer.id,
            risk_level=customer.risk_level,
            assets_under_management=customer.assets_under_management,
            relationship_manager_id=customer.relationship_manager_id,
            tier=customer.tier,
            age_band=age_band(customer.birth_date),
        ),
    )
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="create",
        customer_id=customer.id,
        fields=body.model_fields_set,
        reason=actor.reason,
    )
    if duplicate_of is not None:
        await screening.flag_duplicate(session, customer, duplicate_of)
    hits = await screening.screen(session, customer, trigger="onboarding", settings=settings)
    if hits and Stage(customer.lifecycle_stage) in (Stage.ACTIVE, Stage.DORMANT):
        # Not a way around the onboarding hold: nothing is written, the caller starts in onboarding.
        raise Conflict(
            "A customer with a screening hit cannot be created as active (reason code SCREENING_HIT_OPEN); "
            "create them in onboarding and let compliance decide.",
            reason_code="SCREENING_HIT_OPEN",
        )
    await risk.rerate(session, customer, settings)
    if deferred:
        await book.catch_up(session, moment)
    return customer


async def update(
    session: AsyncSession, customer: Customer, changes: dict, actor: Actor, settings: ProfileSettings
) -> Customer:
    changes = {k: v for k, v in changes.items() if getattr(customer, k) != v}
    if "product_holdings" in changes and actor.role != "system" and await _holdings_reported(session, customer.id):
        raise Conflict(
            "Core banking reports this customer's products: the number held follows it and cannot be set here."
        )
    if changes:
        for field, value in changes.items():
            setattr(customer, field, value)
        if "phone" in changes:
            customer.phone_index = crypto.keyring().blind_index(changes["phone"], field="phone")
        customer.version += 1
        customer.updated_at = now()
        await retier(session, customer, settings)
        await session.flush()
        await announce_update(session, customer, sorted(changes))
        if changes.keys() & screening.SCREENED_FIELDS:
            await screening.screen(session, customer, trigger="profile_change", settings=settings)
        if changes.keys() & risk.RATED_FIELDS:
            await risk.rerate(session, customer, settings)
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="update",
        customer_id=customer.id,
        fields=changes,
        reason=actor.reason,
    )
    return customer


async def announce_update(session: AsyncSession, customer: Customer, changed_fields: list[str]) -> None:
    await outbox.emit(
        session,
        "customer.updated",
        CustomerUpdatedV1(
            customer_id=customer.id,
            risk_level=customer.risk_level,
            assets_under_management=customer.assets_under_management,
            changed_fields=changed_fields,
            relationship_manager_id=customer.relationship_manager_id,
            age_band=age_band(customer.birth_date),
        ),
    )


async def _holdings_reported(session: AsyncSession, customer_id: str) -> bool:
    """Whether core banking reports the customer's products (services/profile/holdings.py)."""
    return (
        await session.scalar(sa.select(Holding.holding_id).where(Holding.customer_id == customer_id).limit(1))
        is not None
    )


def age_band(birth_date: date | None, today: date | None = None) -> str | None:
    """The age band events carry instead of the birth date (`today` defaults to the clock's)."""
    if birth_date is None:
        return None
    today = today or now().date()
    age = today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
    for upper, band in ((18, "under_18"), (40, "18_39"), (65, "40_64"), (80, "65_79")):
        if age < upper:
            return band
    return "80_plus"


def _tier(assets, holdings, last_activity_at, settings: ProfileSettings) -> str:
    return tier_for(assets, holdings, last_activity_at, policy=settings.tier_policy(), moment=now()).value


async def retier(session: AsyncSession, customer: Customer, settings: ProfileSettings) -> None:
    """Move the customer to the tier their assets, holdings and activity give now, with history
    and an event; a customer entering high-net-worth gets a private-banking advisor (R4.1)."""
    tier = _tier(customer.assets_under_management, customer.product_holdings, customer.last_activity_at, settings)
    if tier != customer.tier:
        previous, customer.tier = customer.tier, tier
        session.add(TierChange(customer_id=customer.id, from_tier=previous, to_tier=tier, at=now()))
        await outbox.emit(
            session,
            "customer.tier_changed",
            CustomerTierChangedV1(customer_id=customer.id, previous_tier=previous, tier=tier),
        )
        if tier == Tier.HIGH_NET_WORTH:
            await assign_advisor(session, customer, settings)


async def assign_advisor(session: AsyncSession, customer: Customer, settings: ProfileSettings) -> None:
    """The private-banking advisor with the fewest high-net-worth customers becomes the
    customer's manager, unless one of them already is."""
    advisors = settings.private_banking_advisors
    if not advisors or customer.relationship_manager_id in advisors:
        return
    load = dict(
        (
            await session.execute(
                sa.select(Customer.relationship_manager_id, sa.func.count())
                .where(
                    Customer.relationship_manager_id.in_(advisors),
                    Customer.tier == Tier.HIGH_NET_WORTH.value,
                    Customer.erased_at.is_(None),
                )
                .group_by(Customer.relationship_manager_id)
            )
        ).all()
    )
    advisor = min(advisors, key=lambda a: (load.get(a, 0), a))
    await assign_manager(session, customer, advisor, ADVISOR_ASSIGNMENT)


async def move_stage(
    session: AsyncSession,
    customer: Customer,
    stage: Stage,
    actor: Actor,
    reason: str,
    settings: ProfileSettings | None = None,
) -> None:
    """`settings` is needed for the move from onboarding to active (the screening guard): without
    them that move is refused, never made unscreened."""
    current = Stage(customer.lifecycle_stage)
    _check_move(current, stage)
    if current == Stage.ONBOARDING and stage == Stage.ACTIVE:
        if settings is None:
            raise TypeError("activation needs the profile settings (the screening guard)")
        await screening.guard_activation(session, customer, actor, settings)
    await _write_moves(session, [customer], stage, actor, reason)


async def move_stages(
    session: AsyncSession, customers: Sequence[Customer], stage: Stage, actor: Actor, reason: str
) -> None:
    """`move_stage` for a job's batch of customers (loaded in `session`, locked), in a few
    statements whatever their number; not activation, whose screening guard is per customer."""
    for customer in customers:
        current = Stage(customer.lifecycle_stage)
        _check_move(current, stage)
        if current == Stage.ONBOARDING and stage == Stage.ACTIVE:
            raise TypeError("activation goes through move_stage (the screening guard)")
    await _write_moves(session, customers, stage, actor, reason)


def _check_move(current: Stage, stage: Stage) -> None:
    if stage not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        raise Conflict(f"A customer cannot move from {current} to {stage}; from {current} they may move to: {allowed}.")


async def _write_moves(
    session: AsyncSession, customers: Sequence[Customer], stage: Stage, actor: Actor, reason: str
) -> None:
    """The moves' writes: the customers' stage (one UPDATE: on PostgreSQL the customer book's
    trigger runs once, not once per customer), their history rows, events and audit rows."""
    if not customers:
        return
    moment = now()
    previous = {customer.id: customer.lifecycle_stage for customer in customers}
    await session.execute(
        sa.update(Customer)
        .where(Customer.id.in_(list(previous)))
        .values(lifecycle_stage=stage.value, version=Customer.version + 1, updated_at=moment)
        .execution_options(synchronize_session=False)
    )
    for customer in customers:  # as the UPDATE left them, without a second write
        set_committed_value(customer, "lifecycle_stage", stage.value)
        set_committed_value(customer, "version", customer.version + 1)
        set_committed_value(customer, "updated_at", moment)
    await insert_many(
        session,
        StageChange.__table__,
        [
            {
                "customer_id": i,
                "from_stage": s,
                "to_stage": stage.value,
                "at": moment,
                "actor": actor.id,
                "reason": reason,
            }
            for i, s in previous.items()
        ],
    )
    await outbox.emit_many(
        session,
        [
            (
                "customer.lifecycle_changed",
                CustomerLifecycleChangedV1(customer_id=i, previous_stage=s, stage=stage.value),
            )
            for i, s in previous.items()
        ],
    )
    await audit.record_many(
        session,
        actor=actor.id,
        role=actor.role,
        action="lifecycle",
        customer_ids=list(previous),
        fields=["lifecycle_stage"],
        reason=reason,
    )


async def erase(session: AsyncSession, customer: Customer, actor: Actor, reason: str) -> None:
    """Destroy the identifiers; keep aggregates (assets, tier, risk level, history) (R2.2)."""
    for field, value in ERASED.items():
        setattr(customer, field, value)
    if await is_on_hold(session, legal_holds, customer.id):
        raise Conflict("This customer is under a legal hold; their data cannot be erased until the hold is released.")
    customer.erased_at = now()
    customer.erasure_announced_at = customer.erased_at
    customer.version += 1
    customer.updated_at = customer.erased_at
    if customer.lifecycle_stage != Stage.CHURNED:
        session.add(
            StageChange(
                customer_id=customer.id,
                from_stage=customer.lifecycle_stage,
                to_stage=Stage.CHURNED,
                at=customer.erased_at,
                actor=actor.id,
                reason="erased",
            )
        )
        # Every lifecycle move is announced (R1.3), this one before the erasure itself.
        await outbox.emit(
            session,
            "customer.lifecycle_changed",
            CustomerLifecycleChangedV1(
                customer_id=customer.id, previous_stage=customer.lifecycle_stage, stage=Stage.CHURNED.value
            ),
        )
        customer.lifecycle_stage = Stage.CHURNED.value
    await erase_documents_and_links(session, customer.id)
    await session.execute(sa.delete(Holding).where(Holding.customer_id == customer.id))
    from services.profile.segments import leave_household  # segments builds on this module

    await leave_household(session, customer.id)
    await screening.redact(session, customer.id)
    await outbox.emit(
        session, "customer.erased", CustomerErasedV1(customer_id=customer.id, erased_at=customer.erased_at)
    )
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="erase",
        customer_id=customer.id,
        fields=[*ERASED, "document_number", "relationships", "holdings"],
        reason=reason,
    )


async def assign_manager(session: AsyncSession, customer: Customer, manager_id: str | None, actor: Actor) -> None:
    """Reassign the customer (or give them a dedicated advisor); services scoping access by
    manager learn it from `customer.manager_changed`."""
    previous = customer.relationship_manager_id
    if manager_id != previous:
        customer.relationship_manager_id = manager_id
        customer.version += 1
        customer.updated_at = now()
        await outbox.emit(
            session,
            "customer.manager_changed",
            CustomerManagerChangedV1(customer_id=customer.id, previous_manager_id=previous, manager_id=manager_id),
        )
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="assign_manager",
        customer_id=customer.id,
        fields=["relationship_manager_id"],
        reason=actor.reason,
    )


async def hold(session: AsyncSession, customer: Customer, reference: str, actor: Actor) -> None:
    """Suspend retention and erasure of the customer's data everywhere (R2.2 legal hold)."""
    if not await place_hold(session, legal_holds, customer.id, reference):
        raise Conflict("This customer is already under a legal hold; release it first to change its reference.")
    await outbox.emit(
        session, "customer.legal_hold_placed", CustomerLegalHoldPlacedV1(customer_id=customer.id, reference=reference)
    )
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="legal_hold_placed",
        customer_id=customer.id,
        fields=["legal_hold"],
        reason=actor.reason,
    )


async def release(session: AsyncSession, customer_id: str, actor: Actor) -> None:
    if not await release_hold(session, legal_holds, customer_id):
        raise NotFound("This customer is not under a legal hold.")
    await outbox.emit(session, "customer.legal_hold_released", CustomerLegalHoldReleasedV1(customer_id=customer_id))
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action="legal_hold_released",
        customer_id=customer_id,
        fields=["legal_hold"],
        reason=actor.reason,
    )
