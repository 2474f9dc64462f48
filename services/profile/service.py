"""The profile domain: what happens when a customer is created, changed, moved through the
lifecycle, reassigned or erased. Each function runs inside the caller's transaction and stages
its events in the outbox and its audit rows there, so all of it commits or none of it does."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import (
    CustomerCreatedV1,
    CustomerErasedV1,
    CustomerLifecycleChangedV1,
    CustomerTierChangedV1,
    CustomerUpdatedV1,
)
from services.kit.clock import now
from services.kit import crypto
from services.kit.identity import Actor
from services.kit.problems import Conflict, NotFound, Problem
from services.profile.declarations import FIELDS
from services.profile.documents import erase_documents_and_links
from services.profile.models import Customer, StageChange, TierChange, audit, outbox
from services.profile.schemas import CustomerCreate
from services.profile.settings import ProfileSettings
from services.profile.tiers import TRANSITIONS, Stage, tier_for

# Every declared field a customer response carries; recorded by name in the audit trail.
RETURNED_FIELDS = [field.name for field in FIELDS]
ENCRYPTED_FIELDS = [field.name for field in FIELDS if field.encrypted]


class Gone(Problem):
    status = 410
    title = "Gone"


def may_see(actor: Actor, customer: Customer, settings: ProfileSettings) -> bool:
    """Relationship managers see only the customers assigned to them."""
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


async def read_audited(session: AsyncSession, customer_id: str, actor: Actor, settings: ProfileSettings) -> Customer:
    """The customer, if `actor` may see it, with the read recorded in the audit trail. On
    PostgreSQL one statement in one round trip, outside a transaction: it reads the row and
    inserts the audit row exactly when the row is released (the same conditions as `_visible`),
    and commits both together. Elsewhere, a transaction of two statements."""
    record = {"actor": actor.id, "role": actor.role, "action": "read", "customer_id": customer_id,
              "fields": RETURNED_FIELDS, "reason": actor.reason}
    if session.bind.dialect.name != "postgresql":
        async with session.begin():
            customer = await get_visible(session, customer_id, actor, settings)
            await audit.record(session, **record)
        return customer
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    restricted = actor.role in settings.assigned_only_roles
    query, params = (_READ_ASSIGNED, {"manager": actor.id}) if restricted else (_READ_ANY, {})
    found = await session.execute(query, {"key": customer_id, **params, **audit.read_params(**record)})
    return _visible(found.scalar_one_or_none(), actor, settings)


# The audited reads of one customer (read_audited), built once: released when not erased and,
# for roles that see only their assigned customers, assigned to the caller (as in `_visible`).
_READ_ANY = audit.audited_read(Customer, lambda c: c.id, lambda c: c.erased_at.is_(None))
_READ_ASSIGNED = audit.audited_read(
    Customer, lambda c: c.id,
    lambda c: sa.and_(c.erased_at.is_(None), c.relationship_manager_id == sa.bindparam("manager")),
)


async def create(session: AsyncSession, body: CustomerCreate, actor: Actor, settings: ProfileSettings) -> Customer:
    keys = crypto.keyring()
    national_id_index = keys.blind_index(body.national_id, field="national_id")
    if await session.scalar(sa.select(Customer.id).where(Customer.national_id_index == national_id_index)):
        raise Conflict("A customer with this national ID already exists; read or update that record instead.")
    if body.external_ref and await session.scalar(sa.select(Customer.id).where(Customer.external_ref == body.external_ref)):
        raise Conflict("A customer with this external reference already exists.")
    moment = now()
    fields = body.model_dump()
    if actor.role in settings.assigned_only_roles:
        fields["relationship_manager_id"] = actor.id  # a manager's new customer is theirs
    customer = Customer(
        id=str(uuid.uuid4()),
        version=1,
        created_at=moment,
        updated_at=moment,
        national_id_index=national_id_index,
        phone_index=keys.blind_index(body.phone, field="phone"),
        key_id=keys.active_key_id,
        tier=_tier(fields["assets_under_management"], fields["product_holdings"], settings),
        **fields,
    )
    session.add(customer)
    session.add(StageChange(customer_id=customer.id, from_stage=None, to_stage=customer.lifecycle_stage, at=moment,
                            actor=actor.id, reason="created"))
    session.add(TierChange(customer_id=customer.id, from_tier=None, to_tier=customer.tier, at=moment))
    await session.flush()
    await outbox.emit(session, "customer.created", CustomerCreatedV1(
        customer_id=customer.id, risk_level=customer.risk_level, assets_under_management=customer.assets_under_management,
    ))
    await audit.record(session, actor=actor.id, role=actor.role, action="create", customer_id=customer.id,
                       fields=body.model_fields_set, reason=actor.reason)
    return customer


async def update(
    session: AsyncSession, customer: Customer, changes: dict, actor: Actor, settings: ProfileSettings
) -> Customer:
    changes = {k: v for k, v in changes.items() if getattr(customer, k) != v}
    if changes:
        for field, value in changes.items():
            setattr(customer, field, value)
        if "phone" in changes:
            customer.phone_index = crypto.keyring().blind_index(customer.phone, field="phone")
        customer.version += 1
        customer.updated_at = now()
        await retier(session, customer, settings)
        await session.flush()
        await outbox.emit(session, "customer.updated", CustomerUpdatedV1(
            customer_id=customer.id, risk_level=customer.risk_level,
            assets_under_management=customer.assets_under_management, changed_fields=sorted(changes),
        ))
    await audit.record(session, actor=actor.id, role=actor.role, action="update", customer_id=customer.id,
                       fields=changes, reason=actor.reason)
    return customer


def _tier(assets, holdings, settings: ProfileSettings) -> str:
    return tier_for(
        assets,
        holdings,
        hnw_assets=settings.tier_high_net_worth_assets,
        affluent_assets=settings.tier_affluent_assets,
        mass_assets=settings.tier_mass_assets,
    ).value


async def retier(session: AsyncSession, customer: Customer, settings: ProfileSettings) -> None:
    tier = _tier(customer.assets_under_management, customer.product_holdings, settings)
    if tier != customer.tier:
        previous, customer.tier = customer.tier, tier
        session.add(TierChange(customer_id=customer.id, from_tier=previous, to_tier=tier, at=now()))
        await outbox.emit(session, "customer.tier_changed",
                   CustomerTierChangedV1(customer_id=customer.id, previous_tier=previous, tier=tier))


async def move_stage(session: AsyncSession, customer: Customer, stage: Stage, actor: Actor, reason: str) -> None:
    current = Stage(customer.lifecycle_stage)
    if stage not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        raise Conflict(f"A customer cannot move from {current} to {stage}; from {current} they may move to: {allowed}.")
    customer.lifecycle_stage = stage.value
    customer.version += 1
    customer.updated_at = now()
    session.add(StageChange(customer_id=customer.id, from_stage=current.value, to_stage=stage.value, at=now(),
                            actor=actor.id, reason=reason))
    await outbox.emit(session, "customer.lifecycle_changed",
               CustomerLifecycleChangedV1(customer_id=customer.id, previous_stage=current.value, stage=stage.value))
    await audit.record(session, actor=actor.id, role=actor.role, action="lifecycle", customer_id=customer.id,
                       fields=["lifecycle_stage"], reason=reason)


async def erase(session: AsyncSession, customer: Customer, actor: Actor, reason: str) -> None:
    """Destroy the identifiers; keep aggregates (assets, tier, risk level, history) (R2.2)."""
    for field in ENCRYPTED_FIELDS:
        setattr(customer, field, None)
    customer.national_id_index = None
    customer.phone_index = None
    customer.external_ref = None
    customer.erased_at = now()
    customer.version += 1
    customer.updated_at = customer.erased_at
    if customer.lifecycle_stage != Stage.CHURNED:
        session.add(StageChange(customer_id=customer.id, from_stage=customer.lifecycle_stage, to_stage=Stage.CHURNED,
                                at=customer.erased_at, actor=actor.id, reason="erased"))
        customer.lifecycle_stage = Stage.CHURNED.value
    await erase_documents_and_links(session, customer.id)
    await outbox.emit(session, "customer.erased", CustomerErasedV1(customer_id=customer.id, erased_at=customer.erased_at))
    await audit.record(session, actor=actor.id, role=actor.role, action="erase", customer_id=customer.id,
                       fields=[*ENCRYPTED_FIELDS, "document_number", "relationships"], reason=reason)
