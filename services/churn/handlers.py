"""Keeps each customer's churn features from events, re-scores, and warns on entering high risk.

Every change is one SQL UPDATE on the customer's row: it locks the row until the transaction
ends, so events of one customer arriving on different topics at once apply one after the other,
and the level read afterwards is the one the previous event left.
"""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import (
    ChurnWarningV1,
    ComplaintOpenedV1,
    CustomerCreatedV1,
    CustomerErasedV1,
    CustomerUpdatedV1,
    FeedbackReceivedV1,
)
from events.contracts.envelope import Envelope
from services.kit.clock import now
from services.churn.models import CustomerFeatures as F
from services.churn.models import outbox
from services.churn.scoring import assess, is_low_csat, is_nps_detractor


async def _apply(session: AsyncSession, customer_id: str, *conditions, **values) -> None:
    if await session.get(F, customer_id) is None:
        # The first event about a customer, whatever its kind, creates the row. A concurrent
        # first insert fails on the key; the consumer then retries the event.
        session.add(F(customer_id=customer_id, complaints=0, low_csat=0, nps_detractors=0, updated_at=now()))
        await session.flush()
    await session.execute(
        sa.update(F)
        .where(F.customer_id == customer_id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    await _reassess(session, customer_id)


async def _reassess(session: AsyncSession, customer_id: str) -> None:
    query = sa.select(F).where(F.customer_id == customer_id).execution_options(populate_existing=True)
    features = (await session.scalars(query)).one()
    assessment = assess(features)
    if assessment.level == "high" and features.level != "high":
        warning = ChurnWarningV1(
            customer_id=customer_id,
            score=assessment.score,
            level=assessment.level,
            previous_level=features.level,
            reasons=assessment.reasons,
        )
        await outbox.emit(session, "churn.warning", warning)
    features.score, features.level, features.updated_at = assessment.score, assessment.level, now()


async def on_customer_changed(
    session: AsyncSession, envelope: Envelope, payload: CustomerCreatedV1 | CustomerUpdatedV1
) -> None:
    assets = sa.literal(payload.assets_under_management, F.assets_under_management.type)
    await _apply(
        session,
        payload.customer_id,
        # An older event never overwrites newer assets (compared in SQL: SQLite returns naive datetimes).
        sa.or_(F.customer_event_time.is_(None), F.customer_event_time <= envelope.time),
        previous_assets=F.assets_under_management,  # SET reads the row's values before the update
        assets_under_management=assets,
        peak_assets=sa.case((sa.or_(F.peak_assets.is_(None), F.peak_assets < assets), assets), else_=F.peak_assets),
        customer_event_time=envelope.time,
    )


async def on_feedback_received(session: AsyncSession, envelope: Envelope, payload: FeedbackReceivedV1) -> None:
    values = {"last_feedback_survey": payload.survey, "last_feedback_score": payload.score}
    if is_low_csat(payload.survey, payload.score):
        values["low_csat"] = F.low_csat + 1
    if is_nps_detractor(payload.survey, payload.score):
        values["nps_detractors"] = F.nps_detractors + 1
    await _apply(session, payload.customer_id, **values)


async def on_complaint_opened(session: AsyncSession, envelope: Envelope, payload: ComplaintOpenedV1) -> None:
    await _apply(session, payload.customer_id, complaints=F.complaints + 1)


async def on_customer_erased(session: AsyncSession, envelope: Envelope, payload: CustomerErasedV1) -> None:
    """Forget the customer's behavioural features (R2.2); warnings already published stay on
    their topic under the customer id, which is a random identifier, not personal data."""
    await session.execute(sa.delete(F).where(F.customer_id == payload.customer_id))
