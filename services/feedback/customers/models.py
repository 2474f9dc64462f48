"""What this service knows of a customer, from `customer.*` events (services/kit/known_customers.py):
whether they exist, and, in columns of its own, who manages them (to keep managers to their own
customers' cases) and their tier (for the KPI breakdowns)."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.db import Base
from services.kit.db import UTCDateTime
from services.kit.known_customers import KnownCustomers

known_customers = KnownCustomers(
    Base.metadata,
    sa.Column("relationship_manager_id", sa.String(128), nullable=True, index=True),
    sa.Column("tier", sa.String(16), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)


async def tier_of_known(session: AsyncSession, customer_id: str) -> str | None:
    """The customer's tier; refuses (404) a customer this service has not heard of from the
    profile service, or one who was erased: no case or answer for a customer who does not exist."""
    return (await known_customers.require(session, customer_id, known_customers.c.tier)).tier
