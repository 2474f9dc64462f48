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
