from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from events.outbox import Outbox
from events.store import add_messaging_tables
from services.kit.crypto import EncryptedText
from services.kit.db import UTCDateTime, new_metadata
from services.kit.known_customers import KnownCustomers


class Base(DeclarativeBase):
    metadata = new_metadata()


class Feedback(Base):
    """One survey answer. `comment` is free text and may hold personal data: encrypted, never
    logged, returned or published."""

    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    survey: Mapped[str] = mapped_column(sa.String(8))
    score: Mapped[int] = mapped_column(sa.SmallInteger())
    channel: Mapped[str] = mapped_column(sa.String(16))
    comment: Mapped[str | None] = mapped_column(EncryptedText("comment"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Complaint(Base):
    """A customer complaint. `description` is free text and may hold personal data: encrypted,
    never logged, returned or published."""

    __tablename__ = "complaints"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    category: Mapped[str] = mapped_column(sa.String(16))
    channel: Mapped[str] = mapped_column(sa.String(16))
    # Null once the customer is erased; category, channel and times stay for the statistics.
    description: Mapped[str | None] = mapped_column(EncryptedText("description"))
    status: Mapped[str] = mapped_column(sa.String(16))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())


outbox_table, inbox_table = add_messaging_tables(Base.metadata)
outbox = Outbox(outbox_table, source="feedback")
# Customers as learnt from customer events: feedback only from customers who exist.
known_customers = KnownCustomers(Base.metadata)
