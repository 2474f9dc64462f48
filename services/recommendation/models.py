"""Read models kept from other services' events, and every table of this service's metadata."""

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.recommendation.base import Base, audit, inbox_table, legal_holds, outbox, outbox_table


class Customer(Base):
    """Read model fed by `customer.created`/`customer.updated`; profile is never called."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # Profile's copy of the level; suitability uses this service's own assessments instead.
    risk_level: Mapped[str | None] = mapped_column(sa.String(2))
    assets_under_management: Mapped[Decimal] = mapped_column(sa.Numeric(18, 2))
    age_band: Mapped[str | None] = mapped_column(sa.String(16))
    # Time of the event the state comes from; an older event never overwrites it.
    last_event_time: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MarketingConsent(Base):
    """Read model of the customers' marketing consents, fed by consent events (R6.1): no
    proactive recommendation goes to a customer without an active one."""

    __tablename__ = "marketing_consents"

    consent_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(sa.Boolean())


# Every domain's tables, so `Base.metadata` is complete wherever this module is imported.
from services.recommendation.holdings import models as _holdings  # noqa: E402,F401
from services.recommendation.products import models as _products  # noqa: E402,F401
from services.recommendation.proof import models as _proof  # noqa: E402,F401
from services.recommendation.questionnaire import models as _questionnaire  # noqa: E402,F401

__all__ = ["Base", "Customer", "MarketingConsent", "audit", "inbox_table", "legal_holds", "outbox", "outbox_table"]
