from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from events.outbox import Outbox
from events.store import add_messaging_tables
from services.kit.audit import AuditTrail
from services.kit.db import UTCDateTime, new_metadata
from services.kit.retention import add_legal_holds_table
from services.profile.declarations import CATALOGUE


class Base(DeclarativeBase):
    metadata = new_metadata()
    if TYPE_CHECKING:  # every model maps a table (the default type is any FromClause)
        __table__: ClassVar[sa.Table]


class Customer(Base):
    __tablename__ = "customers"
    # One customer per national ID (its keyed hash; null once erased). A second record with the
    # same national ID exists only as a flagged duplicate (`duplicate_of`, see service.create).
    __table_args__ = (
        sa.Index(
            "uq_customers_national_id_index",
            "national_id_index",
            unique=True,
            postgresql_where=sa.text("duplicate_of IS NULL"),
            sqlite_where=sa.text("duplicate_of IS NULL"),
        ),
        # Every look-up by national ID (search, create, import) names no `duplicate_of`, so the
        # partial unique index above cannot serve it: without this one each is a full scan.
        sa.Index("ix_customers_national_id_index", "national_id_index"),
        # The new customers of a KPI window, per bucket (kpis.py): the columns of its scope are
        # included, so PostgreSQL counts them from the index alone.
        sa.Index(
            "ix_customers_created_at_scope", "created_at", postgresql_include=["erased_at", "relationship_manager_id"]
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    # Personal data is encrypted at rest (AES-256-GCM) as the catalogue declares; the database
    # never holds it in clear.
    # All null once the customer is erased.
    name: Mapped[str | None] = mapped_column(CATALOGUE.column_type("customers", "name", sa.Text()))
    national_id: Mapped[str | None] = mapped_column(CATALOGUE.column_type("customers", "national_id", sa.Text()))
    phone: Mapped[str | None] = mapped_column(CATALOGUE.column_type("customers", "phone", sa.Text()))
    email: Mapped[str | None] = mapped_column(CATALOGUE.column_type("customers", "email", sa.Text()))
    birth_date: Mapped[date | None] = mapped_column(CATALOGUE.column_type("customers", "birth_date", sa.Date()))
    address: Mapped[str | None] = mapped_column(CATALOGUE.column_type("customers", "address", sa.Text()))
    # Screening and money-laundering risk (services/profile/screening).
    nationality: Mapped[str | None] = mapped_column(CATALOGUE.column_type("customers", "nationality", sa.Text()))
    residence_country: Mapped[str | None] = mapped_column(
        CATALOGUE.column_type("customers", "residence_country", sa.Text())
    )
    occupation: Mapped[str | None] = mapped_column(CATALOGUE.column_type("customers", "occupation", sa.Text()))
    onboarding_channel: Mapped[str | None] = mapped_column(sa.String(20))
    cash_intensity: Mapped[str | None] = mapped_column(sa.String(10))
    # Keyed hashes for exact look-up by national ID or phone, without plaintext.
    national_id_index: Mapped[str | None] = mapped_column(sa.String(64))
    phone_index: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    # Key that sealed this row's fields; rotation re-encrypts rows not under the active key.
    key_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    assets_under_management: Mapped[Decimal] = mapped_column(sa.Numeric(18, 2))
    product_holdings: Mapped[int] = mapped_column(sa.Integer(), default=0)
    # Set only by `risk_assessment.completed` events (the recommendation service assesses).
    risk_level: Mapped[str | None] = mapped_column(sa.String(2))
    risk_level_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    risk_assessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tier: Mapped[str] = mapped_column(sa.String(20), index=True)
    lifecycle_stage: Mapped[str] = mapped_column(sa.String(20), index=True)
    relationship_manager_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    # The customer this record duplicates (same national ID), when a manager who may not see
    # that customer created it; compliance decides whether the two are one person (service.create).
    duplicate_of: Mapped[str | None] = mapped_column(sa.String(36))
    # The bank's own reference (core banking id); makes bulk imports idempotent.
    external_ref: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The customer's last interaction the platform heard of (activity events); tiers and dormancy.
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # When `customer.erased` was last announced; announced again every few days for a while, so a
    # consumer away longer than the topic retention still applies it (retention.py).
    erasure_announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bumped on every change; the ETag of the record (lost-update protection).
    version: Mapped[int] = mapped_column(sa.Integer(), default=1)
    # The new customers of a KPI window (kpis.py) are counted from ix_customers_created_at_scope.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StageChange(Base):
    """Lifecycle history: every move from one stage to another, by whom and why."""

    __tablename__ = "lifecycle_history"
    # The customers who moved to a stage within a KPI window (kpis.py: churned customers), the
    # customer included so the count is answered from the index alone.
    __table_args__ = (
        sa.Index("ix_lifecycle_history_to_stage_at_customer", "to_stage", "at", postgresql_include=["customer_id"]),
    )

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(sa.String(20))
    to_stage: Mapped[str] = mapped_column(sa.String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(sa.String(128))
    reason: Mapped[str | None] = mapped_column(sa.String(500))


class TierChange(Base):
    __tablename__ = "tier_history"

    id: Mapped[int] = mapped_column(sa.Integer(), primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    from_tier: Mapped[str | None] = mapped_column(sa.String(20))
    to_tier: Mapped[str] = mapped_column(sa.String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Holding(Base):
    """A product of the customer's as core banking reports it (services/profile/holdings.py)."""

    __tablename__ = "holdings"

    holding_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    product_code: Mapped[str] = mapped_column(sa.String(64))
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


outbox_table, inbox_table = add_messaging_tables(Base.metadata)
outbox = Outbox(outbox_table, source="profile")
audit = AuditTrail(Base.metadata)
legal_holds = add_legal_holds_table(Base.metadata)

# Screening's tables live in this database too, as do the book's sums behind the bank-wide KPIs
# (book.py); importing them here puts them in Base.metadata.
from services.profile import book  # noqa: E402,F401
from services.profile.screening import models as screening_models  # noqa: E402,F401
