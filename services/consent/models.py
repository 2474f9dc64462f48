from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from events.envelope import now
from events.outbox import Outbox
from events.store import add_messaging_tables
from services.kit.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class Consent(Base):
    """A customer's permission for `recipient` to use `data_categories` for `purpose`.

    Only the grant and the revocation are stored; `expired` is derived from `expires_at`, so a
    consent lapses on time without anything having to write.
    """

    __tablename__ = "consents"
    __table_args__ = (sa.Index("ix_consents_customer_id_granted_at", "customer_id", "granted_at"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64))
    recipient: Mapped[str] = mapped_column(sa.String(100))
    purpose: Mapped[str] = mapped_column(sa.String(32))
    data_categories: Mapped[list[str]] = mapped_column(sa.JSON())
    channel: Mapped[str] = mapped_column(sa.String(16))
    granted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    granted_by: Mapped[str] = mapped_column(sa.String(64))
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(sa.String(64))

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and _as_utc(self.expires_at) <= now():
            return "expired"
        return "active"


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands datetimes back naive; everything here is written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


outbox_table, inbox_table = add_messaging_tables(Base.metadata)
outbox = Outbox(outbox_table)
