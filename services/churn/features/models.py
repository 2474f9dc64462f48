from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.churn.base import Base
from services.kit.db import UTCDateTime


class CustomerFeatures(Base):
    """What the events told us about one customer: the inputs of the churn score, and its result."""

    __tablename__ = "customer_features"
    # The churned customers, whose interventions did not keep them (kpis/routes.py: retention).
    __table_args__ = (
        sa.Index(
            "ix_customer_features_churned",
            "customer_id",
            postgresql_where=sa.text("churned_at IS NOT NULL"),
            sqlite_where=sa.text("churned_at IS NOT NULL"),
        ),
    )

    customer_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # Unknown (None) until a customer event arrives; feedback or a complaint may come first.
    assets_under_management: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    previous_assets: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    peak_assets: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    # Time of the customer event the assets come from; an older event never overwrites them.
    customer_event_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Lifetime counts, the inputs of the rules (the fallback when no model is promoted).
    complaints: Mapped[int] = mapped_column(sa.Integer(), default=0)
    low_csat: Mapped[int] = mapped_column(sa.Integer(), default=0)
    nps_detractors: Mapped[int] = mapped_column(sa.Integer(), default=0)
    last_feedback_survey: Mapped[str | None] = mapped_column(sa.String(8))
    last_feedback_score: Mapped[int | None] = mapped_column(sa.Integer())
    # The event-fed feature state (features.definitions), folded from every event so far.
    state: Mapped[dict[str, Any]] = mapped_column(sa.JSON(), default=dict, server_default=sa.text("'{}'"))
    # From customer.* events: whose customer this is (tasks go to them), tier (points earning).
    manager_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    tier: Mapped[str | None] = mapped_column(sa.String(32))
    churned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the first event about the customer arrived (the churn rate's denominator).
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The assessment after the last event: a warning is sent when `level` rises.
    score: Mapped[int] = mapped_column(sa.Integer(), default=0)
    probability: Mapped[float | None] = mapped_column(sa.Float())
    # Estimated from the assets and the probability whenever either changes (features/value.py),
    # so the lifetime value KPI sums a column.
    lifetime_value: Mapped[float | None] = mapped_column(sa.Float())
    model: Mapped[str | None] = mapped_column(sa.String(32))
    level: Mapped[str] = mapped_column(sa.String(8), default="low")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
