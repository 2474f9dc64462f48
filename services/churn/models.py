from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from events.outbox import Outbox
from events.store import add_messaging_tables
from services.kit.db import UTCDateTime, new_metadata
from services.kit.retention import add_legal_holds_table


class Base(DeclarativeBase):
    metadata = new_metadata()


class CustomerFeatures(Base):
    """What the events told us about one customer: the inputs of the churn score."""

    __tablename__ = "customer_features"

    customer_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # Unknown (None) until a customer event arrives; feedback or a complaint may come first.
    assets_under_management: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    previous_assets: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    peak_assets: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    # Time of the customer event the assets come from; an older event never overwrites them.
    customer_event_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    complaints: Mapped[int] = mapped_column(sa.Integer(), default=0)
    low_csat: Mapped[int] = mapped_column(sa.Integer(), default=0)
    nps_detractors: Mapped[int] = mapped_column(sa.Integer(), default=0)
    last_feedback_survey: Mapped[str | None] = mapped_column(sa.String(8))
    last_feedback_score: Mapped[int | None] = mapped_column(sa.Integer())
    # The assessment after the last event: a warning is sent when `level` moves into high.
    score: Mapped[int] = mapped_column(sa.Integer(), default=0)
    level: Mapped[str] = mapped_column(sa.String(8), default="low")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


outbox_table, inbox_table = add_messaging_tables(Base.metadata)
outbox = Outbox(outbox_table, source="churn")
legal_holds = add_legal_holds_table(Base.metadata)
