"""Honours `customer.erased`: the customer's free text is destroyed; scores, categories and
times stay, unlinked from any identity, for satisfaction and complaint statistics."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import CustomerErasedV1
from events.contracts.envelope import Envelope
from services.feedback.models import Complaint, Feedback, known_customers


async def on_customer_erased(session: AsyncSession, envelope: Envelope, payload: CustomerErasedV1) -> None:
    await known_customers.erased(session, payload.customer_id, payload.erased_at)
    await session.execute(sa.update(Feedback).where(Feedback.customer_id == payload.customer_id).values(comment=None))
    await session.execute(
        sa.update(Complaint).where(Complaint.customer_id == payload.customer_id).values(description=None)
    )


HANDLERS = {**known_customers.handlers(), "customer.erased": on_customer_erased}
