from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.recommendation.base import Base


class Holding(Base):
    """What a customer holds: from core banking's events and from sales through the platform."""

    __tablename__ = "holdings"
    __table_args__ = (sa.Index("ix_holdings_product_open", "product_code", "closed_at"),)

    holding_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    product_code: Mapped[str] = mapped_column(sa.String(32))
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(18, 2))
    source: Mapped[str] = mapped_column(sa.String(16))  # corebanking, platform
    check_id: Mapped[str | None] = mapped_column(sa.String(36))  # the suitability check of a platform sale
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SegmentPopularity(Base):
    """Share of each segment of similar customers holding each product, learned from holdings
    by a periodic job (`learn-popularity`)."""

    __tablename__ = "segment_popularity"

    segment: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    product_code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    share: Mapped[float] = mapped_column(sa.Float())
    learned_at: Mapped[datetime] = mapped_column(UTCDateTime())
