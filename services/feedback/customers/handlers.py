"""Keeps the customer read model (manager, tier) from the profile service's events, and honours
`customer.erased`: free text about the customer is destroyed; scores, categories and times stay,
unlinked from any identity, for the statistics."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.consumer import Handler
from events.contracts import (
    CustomerCreatedV1,
    CustomerErasedV1,
    CustomerManagerChangedV1,
    CustomerTierChangedV1,
    CustomerUpdatedV1,
)
from events.contracts.envelope import Envelope
from services.feedback.cases.models import Case, CaseNote
from services.feedback.customers.models import known_customers
from services.feedback.declarations import CATALOGUE
from services.feedback.surveys.models import SurveyAnswer
from services.kit.clock import now


async def _upsert(session: AsyncSession, customer_id: str, **values) -> None:
    await known_customers.remember(session, customer_id, **values, updated_at=now())


async def on_customer_created(session: AsyncSession, envelope: Envelope, payload: CustomerCreatedV1) -> None:
    await _upsert(
        session, payload.customer_id, relationship_manager_id=payload.relationship_manager_id, tier=payload.tier
    )


async def on_customer_updated(session: AsyncSession, envelope: Envelope, payload: CustomerUpdatedV1) -> None:
    # Older producers leave the manager out: only a change of it says what it is now.
    if "relationship_manager_id" in payload.changed_fields or payload.relationship_manager_id is not None:
        await _upsert(session, payload.customer_id, relationship_manager_id=payload.relationship_manager_id)


async def on_manager_changed(session: AsyncSession, envelope: Envelope, payload: CustomerManagerChangedV1) -> None:
    await _upsert(session, payload.customer_id, relationship_manager_id=payload.manager_id)


async def on_tier_changed(session: AsyncSession, envelope: Envelope, payload: CustomerTierChangedV1) -> None:
    await _upsert(session, payload.customer_id, tier=payload.tier)


async def on_customer_erased(session: AsyncSession, envelope: Envelope, payload: CustomerErasedV1) -> None:
    customer_id = payload.customer_id
    erased = CATALOGUE.erased_values
    await session.execute(
        sa.update(SurveyAnswer).where(SurveyAnswer.customer_id == customer_id).values(**erased("feedback"))
    )
    await session.execute(sa.update(Case).where(Case.customer_id == customer_id).values(**erased("cases")))
    cases = sa.select(Case.id).where(Case.customer_id == customer_id).scalar_subquery()
    await session.execute(sa.update(CaseNote).where(CaseNote.case_id.in_(cases)).values(**erased("case_notes")))
    await known_customers.erased(session, customer_id, payload.erased_at, updated_at=now())


HANDLERS: dict[str, Handler] = {
    "customer.created": on_customer_created,
    "customer.updated": on_customer_updated,
    "customer.manager_changed": on_manager_changed,
    "customer.tier_changed": on_tier_changed,
    "customer.erased": on_customer_erased,
}
