from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from events.store import add_messaging_tables
from services.kit.db import UTCDateTime, new_metadata
from services.kit.retention import add_legal_holds_table


class Base(DeclarativeBase):
    metadata = new_metadata()


class Product(Base):
    """The catalogue (reference data, seeded by migration 0002)."""

    __tablename__ = "products"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    category: Mapped[str] = mapped_column(sa.String(16))
    risk_level: Mapped[str] = mapped_column(sa.String(2))  # R1 (lowest) .. R5
    description: Mapped[str] = mapped_column(sa.String(500))
    active: Mapped[bool] = mapped_column(sa.Boolean(), default=True)


class Customer(Base):
    """Read model fed by `customer.created`/`customer.updated`; profile is never called."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    risk_level: Mapped[str] = mapped_column(sa.String(2))  # C1 .. C5
    assets_under_management: Mapped[Decimal] = mapped_column(sa.Numeric(18, 2))
    # Time of the event the state comes from; an older event never overwrites it.
    last_event_time: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MarketingConsent(Base):
    """Read model of the customers' marketing consents, fed by consent events (R6.1): no
    recommendation goes to a customer without an active one."""

    __tablename__ = "marketing_consents"

    consent_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(sa.Boolean())


# This service emits no events yet: the outbox table exists, but no Outbox relays it.
outbox_table, inbox_table = add_messaging_tables(Base.metadata)
legal_holds = add_legal_holds_table(Base.metadata)
