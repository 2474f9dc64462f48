"""Events profile consumes: the risk level comes from the recommendation service's assessments."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import RiskAssessmentCompletedV1
from events.contracts.envelope import Envelope
from services.profile.models import Customer


async def on_risk_assessment_completed(
    session: AsyncSession, envelope: Envelope, payload: RiskAssessmentCompletedV1
) -> None:
    """Show the level of the customer's latest assessment; an older one arriving late changes nothing."""
    await session.execute(
        sa.update(Customer)
        .where(
            Customer.id == payload.customer_id,
            sa.or_(Customer.risk_assessed_at.is_(None), Customer.risk_assessed_at < payload.completed_at),
        )
        .values(
            risk_level=payload.risk_level,
            risk_level_valid_until=payload.valid_until,
            risk_assessed_at=payload.completed_at,
        )
        .execution_options(synchronize_session=False)
    )


HANDLERS = {"risk_assessment.completed": on_risk_assessment_completed}
