"""Keeps the customer read model from the profile service's events."""

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import CustomerCreatedV1, CustomerUpdatedV1
from events.envelope import Envelope, now
from services.recommendation.models import Customer

log = structlog.get_logger(__name__)


async def on_customer_changed(
    session: AsyncSession, envelope: Envelope, payload: CustomerCreatedV1 | CustomerUpdatedV1
) -> None:
    """Store the customer's risk level and assets unless a newer event already did.

    The time check runs in SQL: one statement, and no comparison of the event's aware datetime
    with the naive one SQLite hands back.
    """
    state = {
        "risk_level": payload.risk_level,
        "assets_under_management": payload.assets_under_management,
        "last_event_time": envelope.time,
        "updated_at": now(),
    }
    updated = await session.execute(
        sa.update(Customer)
        .where(Customer.customer_id == payload.customer_id, Customer.last_event_time <= envelope.time)
        .values(**state)
        .execution_options(synchronize_session=False)
    )
    if updated.rowcount:
        return
    if await session.get(Customer, payload.customer_id) is None:
        # A concurrent first insert fails on the key; the consumer then retries this event.
        session.add(Customer(customer_id=payload.customer_id, **state))
    else:
        log.info("customer_event_outdated", event_type=envelope.type)
