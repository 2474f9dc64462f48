"""Honours `customer.erased`: the customer's free text is destroyed; scores, categories and
times stay, unlinked from any identity, for satisfaction and complaint statistics."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import CustomerErasedV1
from events.contracts.envelope import Envelope
from services.feedback.declarations import CATALOGUE
from services.feedback.models import Complaint, Feedback


async def on_customer_erased(session: AsyncSession, envelope: Envelope, payload: CustomerErasedV1) -> None:
    for model in (Feedback, Complaint):
        await session.execute(sa.update(model).where(model.customer_id == payload.customer_id)
                              .values(**CATALOGUE.erased_values(model.__tablename__)))


HANDLERS = {"customer.erased": on_customer_erased}
