from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from events.outbox import Outbox
from events.store import add_messaging_tables
from services.kit.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    national_id: Mapped[str] = mapped_column(sa.String(32))
    phone: Mapped[str] = mapped_column(sa.String(20))
    email: Mapped[str] = mapped_column(sa.String(254))
    birth_date: Mapped[date] = mapped_column(sa.Date())
    address: Mapped[str] = mapped_column(sa.String(200))
    assets_under_management: Mapped[Decimal] = mapped_column(sa.Numeric(18, 2))
    risk_level: Mapped[str] = mapped_column(sa.String(2))
    # Bumped on every change; the ETag of the record (lost-update protection).
    version: Mapped[int] = mapped_column(sa.Integer(), default=1)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


outbox_table, inbox_table = add_messaging_tables(Base.metadata)
outbox = Outbox(outbox_table)
