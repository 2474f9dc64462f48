"""Screening and money-laundering risk tables, in the profile database (the only place that
holds customers' names, which screening needs in clear)."""

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.profile.declarations import CATALOGUE
from services.profile.models import Base


class ScreeningList(Base):
    """One version of one list. Loading a new version adds a row and moves `active` to it in
    the same transaction as its entries, so screening sees the old list or the new, never half."""

    __tablename__ = "screening_lists"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(100), index=True)
    version: Mapped[int] = mapped_column(sa.Integer())
    source: Mapped[str] = mapped_column(sa.String(500))  # file name and SHA-256 of its content
    list_format: Mapped[str] = mapped_column(sa.String(10))
    entries: Mapped[int] = mapped_column(sa.Integer())
    active: Mapped[bool] = mapped_column(sa.Boolean(), index=True)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScreeningEntry(Base):
    """A listed person (public data: names, birth dates, nationalities, topics)."""

    __tablename__ = "screening_entries"
    __table_args__ = (sa.UniqueConstraint("list_id", "entity_id"),)

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    list_id: Mapped[int] = mapped_column(sa.ForeignKey("screening_lists.id"), index=True)
    entity_id: Mapped[str] = mapped_column(sa.String(200))
    names: Mapped[list] = mapped_column(sa.JSON())
    birth_dates: Mapped[list] = mapped_column(sa.JSON())
    nationalities: Mapped[list] = mapped_column(sa.JSON())
    topics: Mapped[list] = mapped_column(sa.JSON())
    # Changes when the entry's names, dates or nationalities change between versions.
    fingerprint: Mapped[str] = mapped_column(sa.String(64))


class ScreeningRun(Base):
    """Re-screening of the whole book for a new list version (or after a bulk import, with no
    list): a row the `rescreen-book` job works through in batches (cursor: the last customer id
    screened)."""

    __tablename__ = "screening_runs"

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    list_id: Mapped[int | None] = mapped_column(sa.ForeignKey("screening_lists.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(10), index=True)  # pending | done
    after_customer_id: Mapped[str | None] = mapped_column(sa.String(36))
    screened: Mapped[int] = mapped_column(sa.Integer(), default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ScreeningAlert(Base):
    __tablename__ = "screening_alerts"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    list_name: Mapped[str] = mapped_column(sa.String(100))
    list_version: Mapped[int] = mapped_column(sa.Integer())
    entity_id: Mapped[str] = mapped_column(sa.String(200))
    entry_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    customer_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    score: Mapped[Decimal] = mapped_column(sa.Numeric(4, 3))
    decision: Mapped[str] = mapped_column(sa.String(10))  # match | review
    reason_code: Mapped[str] = mapped_column(sa.String(40))
    # Which name parts matched and how: names the customer, so encrypted.
    reasons: Mapped[str] = mapped_column(CATALOGUE.column_type("screening_alerts", "reasons", sa.Text()))
    trigger: Mapped[str] = mapped_column(sa.String(20))  # onboarding | profile_change | list_version
    # open -> confirming (one officer decided) -> true_match | false_positive; back to open if
    # the second officer disagrees.
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    proposed_outcome: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ScreeningDecision(Base):
    __tablename__ = "screening_decisions"

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(sa.ForeignKey("screening_alerts.id"), index=True)
    actor: Mapped[str] = mapped_column(sa.String(128))
    outcome: Mapped[str] = mapped_column(sa.String(20))  # true_match | false_positive
    reason: Mapped[str] = mapped_column(CATALOGUE.column_type("screening_decisions", "reason", sa.Text()))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScreeningDismissal(Base):
    """A false positive remembered for one customer and one list entry: not raised again while
    neither the customer's screened data nor the entry changes (both fingerprints)."""

    __tablename__ = "screening_dismissals"

    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), primary_key=True)
    list_name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    entity_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    entry_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    customer_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    alert_id: Mapped[str] = mapped_column(sa.ForeignKey("screening_alerts.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AmlRating(Base):
    __tablename__ = "aml_ratings"

    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), primary_key=True)
    rating: Mapped[str] = mapped_column(sa.String(10), index=True)  # low | medium | high
    score: Mapped[int] = mapped_column(sa.Integer())
    factors: Mapped[list] = mapped_column(sa.JSON())  # factor codes, no values
    enhanced_due_diligence: Mapped[bool] = mapped_column(sa.Boolean())
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    review_due: Mapped[date] = mapped_column(sa.Date(), index=True)


class AmlReview(Base):
    """A periodic review of a customer's rating: a task, due on `due_on`, open until done."""

    __tablename__ = "aml_reviews"

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    rating: Mapped[str] = mapped_column(sa.String(10))
    due_on: Mapped[date] = mapped_column(sa.Date(), index=True)
    status: Mapped[str] = mapped_column(sa.String(10), index=True)  # open | done
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(sa.String(128))
