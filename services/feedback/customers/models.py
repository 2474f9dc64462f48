from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.feedback.db import Base
from services.kit.db import UTCDateTime


class KnownCustomer(Base):
    """What this service knows of a customer, from `customer.*` events: who manages them (to keep
    managers to their own customers' cases) and their tier (for the KPI breakdowns)."""

    __tablename__ = "known_customers"

    customer_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    relationship_manager_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    tier: Mapped[str | None] = mapped_column(sa.String(16))
    erased: Mapped[bool] = mapped_column(sa.Boolean(), default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


async def tier_of_known(session, customer_id: str) -> str | None:
    """The customer's tier; refuses (404) a customer this service has not heard of from the
    profile service, or one who was erased: no case or answer for a customer who does not exist."""
    from services.kit.problems import NotFound

    row = (
        await session.execute(
            sa.select(KnownCustomer.tier, KnownCustomer.erased).where(KnownCustomer.customer_id == customer_id)
        )
    ).first()
    if row is None or row.erased:
        raise NotFound("No customer has this id.")
    return row.tier
