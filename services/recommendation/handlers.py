"""Keeps the read models from other services' events: customers (profile), marketing consents
(consent), holdings (core banking)."""

from functools import cache
from typing import cast

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from events.consumer import Handler
from events.contracts import (
    ConsentDecidedV1,
    ConsentExpiredV1,
    ConsentGrantedV1,
    ConsentRevokedV1,
    CustomerCreatedV1,
    CustomerErasedV1,
    CustomerUpdatedV1,
)
from events.contracts.envelope import Envelope
from services.kit.clock import now
from services.recommendation.holdings.models import Holding
from services.recommendation.holdings.service import on_product_closed, on_product_opened
from services.recommendation.models import Customer, MarketingConsent
from services.recommendation.questionnaire.models import RiskAssessment
from services.recommendation.questionnaire.service import request_reassessment_if_changed
from services.recommendation.settings import RecommendationSettings

MARKETING = "marketing"


@cache
def _settings() -> RecommendationSettings:
    """Handlers take no settings argument; read them once per process."""
    return RecommendationSettings()


log = structlog.get_logger(__name__)


async def on_customer_changed(
    session: AsyncSession, envelope: Envelope, payload: CustomerCreatedV1 | CustomerUpdatedV1
) -> None:
    """Store the customer's assets and age band unless a newer event already did; a change that
    matters for suitability asks for a re-assessment.

    The time check runs in SQL: one statement, and no comparison of the event's aware datetime
    with the naive one SQLite hands back.
    """
    state = {
        "risk_level": payload.risk_level,
        "assets_under_management": payload.assets_under_management,
        "age_band": payload.age_band,
        "last_event_time": envelope.time,
        "updated_at": now(),
    }
    update = (
        sa.update(Customer)
        .where(Customer.customer_id == payload.customer_id, Customer.last_event_time <= envelope.time)
        .values(**state)
        .execution_options(synchronize_session=False)
    )
    updated = cast(CursorResult, await session.execute(update))  # an UPDATE's result has a rowcount
    if not updated.rowcount:
        if await session.get(Customer, payload.customer_id) is not None:
            log.info("customer_event_outdated", event_type=envelope.type)
            return
        # A concurrent first insert fails on the key; the consumer then retries this event.
        session.add(Customer(customer_id=payload.customer_id, **state))
    await session.flush()
    customer = await session.get_one(Customer, payload.customer_id, populate_existing=True)  # just written
    await request_reassessment_if_changed(session, _settings(), customer)


async def on_consent_active(
    session: AsyncSession, envelope: Envelope, payload: ConsentGrantedV1 | ConsentDecidedV1
) -> None:
    if payload.purpose != MARKETING:
        return
    known = await session.get(MarketingConsent, payload.consent_id)
    if known is not None and not known.active:
        return  # already ended: a grant seen late never revives it
    await session.merge(
        MarketingConsent(
            consent_id=payload.consent_id, customer_id=payload.customer_id, expires_at=payload.expires_at, active=True
        )
    )


async def on_consent_ended(
    session: AsyncSession, envelope: Envelope, payload: ConsentRevokedV1 | ConsentExpiredV1
) -> None:
    if payload.purpose != MARKETING:
        return
    # Recorded even if the grant was never seen, so a late grant cannot revive it.
    await session.merge(
        MarketingConsent(consent_id=payload.consent_id, customer_id=payload.customer_id, expires_at=None, active=False)
    )


async def on_customer_erased(session: AsyncSession, envelope: Envelope, payload: CustomerErasedV1) -> None:
    """Forget the customer's read-model data. Suitability decisions, recommendation lists and
    assessments are records the bank must keep (R3.2 proof); they hold ids and codes only."""
    await session.execute(sa.delete(MarketingConsent).where(MarketingConsent.customer_id == payload.customer_id))
    await session.execute(sa.delete(Customer).where(Customer.customer_id == payload.customer_id))
    await session.execute(sa.delete(Holding).where(Holding.customer_id == payload.customer_id))
    await session.execute(
        sa.update(RiskAssessment).where(RiskAssessment.customer_id == payload.customer_id).values(answers={})
    )


HANDLERS: dict[str, Handler] = {
    "customer.created": on_customer_changed,
    "customer.updated": on_customer_changed,
    "customer.erased": on_customer_erased,
    "consent.granted": on_consent_active,
    "consent.approved": on_consent_active,
    "consent.revoked": on_consent_ended,
    "consent.expired": on_consent_ended,
    "corebanking.product_opened": on_product_opened,
    "corebanking.product_closed": on_product_closed,
}
