from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.recommendation.base import Base


class RiskAssessment(Base):
    """One scored questionnaire. The customer's current one has `superseded_at` null (at most one)."""

    __tablename__ = "risk_assessments"
    __table_args__ = (
        sa.Index(
            "ix_risk_assessments_current",
            "customer_id",
            unique=True,
            sqlite_where=sa.text("superseded_at IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    questionnaire_version: Mapped[str] = mapped_column(sa.String(16))
    answers: Mapped[dict] = mapped_column(sa.JSON())  # question id -> answer id (codes only)
    points: Mapped[int] = mapped_column(sa.Integer())
    risk_level: Mapped[str] = mapped_column(sa.String(2))
    lowest_category: Mapped[bool] = mapped_column(sa.Boolean())
    vulnerable: Mapped[bool] = mapped_column(sa.Boolean())
    horizon_years: Mapped[int | None] = mapped_column(sa.Integer())
    liquidity_days: Mapped[int | None] = mapped_column(sa.Integer())
    goals: Mapped[str] = mapped_column(sa.String(200))  # comma-separated codes
    # What the customer looked like when assessed: a change of either asks for a re-assessment.
    age_band: Mapped[str | None] = mapped_column(sa.String(16))
    asset_band: Mapped[str] = mapped_column(sa.String(16))
    recorded_by: Mapped[str] = mapped_column(sa.String(128))
    recorded_by_role: Mapped[str] = mapped_column(sa.String(64))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    reassessment_due_on: Mapped[date | None] = mapped_column(sa.Date())
    reassessment_reason: Mapped[str | None] = mapped_column(sa.String(32))
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
