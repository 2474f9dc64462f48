"""Proof: every suitability decision and recommendation list with what it used and its result."""

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.recommendation.base import Base


class SuitabilityCheck(Base):
    __tablename__ = "suitability_checks"
    __table_args__ = (
        # The KPIs count a window's checks from this index alone (PostgreSQL: an index-only scan),
        # never reading the wide rows (verdict, inputs).
        sa.Index(
            "ix_suitability_checks_decided_at",
            "decided_at",
            postgresql_include=["result", "overridden", "product_code", "product_risk_level"],
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    product_code: Mapped[str] = mapped_column(sa.String(32))
    product_version: Mapped[int] = mapped_column(sa.Integer())
    product_risk_level: Mapped[str] = mapped_column(sa.String(2))
    customer_risk_level: Mapped[str | None] = mapped_column(sa.String(2))
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(18, 2))
    result: Mapped[str] = mapped_column(sa.String(8))  # pass, warn, block
    rule_ids: Mapped[str] = mapped_column(sa.String(300))  # comma-separated ids of the rules that fired
    verdict: Mapped[dict] = mapped_column(sa.JSON())
    # The facts the rules saw (customer, product, holdings, limits, override): replay input.
    inputs: Mapped[dict] = mapped_column(sa.JSON())
    ruleset_version: Mapped[str] = mapped_column(sa.String(32))
    questionnaire_version: Mapped[str | None] = mapped_column(sa.String(16))
    assessment_id: Mapped[str | None] = mapped_column(sa.String(36))
    customer_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime())  # version of the customer data
    overridden: Mapped[bool] = mapped_column(sa.Boolean())
    warning_hash: Mapped[str | None] = mapped_column(sa.String(64))  # SHA-256 of the acknowledged warning text
    cooling_off_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follow_up_due_on: Mapped[date | None] = mapped_column(sa.Date())
    decided_by: Mapped[str] = mapped_column(sa.String(128))
    decided_by_role: Mapped[str] = mapped_column(sa.String(64))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sold_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RecommendationList(Base):
    __tablename__ = "recommendation_lists"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    mode: Mapped[str] = mapped_column(sa.String(16))  # proactive, advice
    ruleset_version: Mapped[str] = mapped_column(sa.String(32))
    questionnaire_version: Mapped[str | None] = mapped_column(sa.String(16))
    assessment_id: Mapped[str | None] = mapped_column(sa.String(36))
    catalogue_version: Mapped[int] = mapped_column(sa.Integer())
    customer_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime())
    inputs: Mapped[dict] = mapped_column(sa.JSON())  # customer facts, holdings, similar shares, limits
    picks: Mapped[list] = mapped_column(sa.JSON())
    exclusions: Mapped[list] = mapped_column(sa.JSON())
    made_by: Mapped[str] = mapped_column(sa.String(128))
    made_by_role: Mapped[str] = mapped_column(sa.String(64))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RecommendationItem(Base):
    """The picks of each list: open until the customer's next list supersedes them, or a
    re-matching (e.g. after a product re-rating) finds them unsuitable."""

    __tablename__ = "recommendation_items"
    __table_args__ = (
        sa.Index("ix_recommendation_items_product_open", "product_code", "open"),
        sa.Index("ix_recommendation_items_customer_open", "customer_id", "open"),
    )

    recommendation_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    product_code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64))
    rank: Mapped[int] = mapped_column(sa.Integer())
    open: Mapped[bool] = mapped_column(sa.Boolean())


class SuitabilityMismatch(Base):
    __tablename__ = "suitability_mismatches"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    product_code: Mapped[str] = mapped_column(sa.String(32))
    product_risk_level: Mapped[str] = mapped_column(sa.String(2))
    customer_risk_level: Mapped[str | None] = mapped_column(sa.String(2))
    holding_id: Mapped[str | None] = mapped_column(sa.String(64))
    recommendation_id: Mapped[str | None] = mapped_column(sa.String(36))
    rule_ids: Mapped[str] = mapped_column(sa.String(300))
    cause: Mapped[str] = mapped_column(sa.String(32))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SuitabilityCheckDay(Base):
    """Suitability checks per UTC day of decision, product, its risk level, result and override,
    kept by triggers (migration 0008, services/kit/daily_counts.py): the KPIs of long windows
    read these, not every check."""

    __tablename__ = "suitability_check_days"

    day: Mapped[date] = mapped_column(sa.Date(), primary_key=True)
    product_code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    product_risk_level: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    result: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    overridden: Mapped[bool] = mapped_column(sa.Boolean(), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger())


class SuitabilityMismatchDay(Base):
    """Suitability mismatches per UTC day of detection, product and its risk level, kept the same way."""

    __tablename__ = "suitability_mismatch_days"

    day: Mapped[date] = mapped_column(sa.Date(), primary_key=True)
    product_code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    product_risk_level: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger())
