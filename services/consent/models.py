from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from events.contracts.terms import ConsentStatus
from events.outbox import Outbox
from events.store import add_messaging_tables
from services.kit.audit import AuditTrail
from services.kit.clock import now
from services.kit.db import UTCDateTime, new_metadata
from services.kit.known_customers import KnownCustomers
from services.kit.retention import add_legal_holds_table


class Base(DeclarativeBase):
    metadata = new_metadata()
    if TYPE_CHECKING:  # every model maps a table (the default type is any FromClause)
        __table__: ClassVar[sa.Table]


class Consent(Base):
    """A customer's permission for `recipient` to use `data_categories` for `purpose`.

    `status` is the stored lifecycle state: requested, active, rejected, revoked or expired.
    An active consent past `expires_at` allows nothing even before the expiry job has marked it
    (`current_status`). Every transition is also a `ConsentChange` row (for as-of decisions) and
    an audit record (for proof).
    """

    __tablename__ = "consents"
    __table_args__ = (
        sa.Index("ix_consents_customer_id_created_at", "customer_id", "created_at"),
        # Decisions look consents up by customer and recipient, newest first (services/consent/
        # service.py, _DECIDE_NOW): the index gives them in that order, with no sort.
        sa.Index("ix_consents_customer_id_recipient_created_at", "customer_id", "recipient", "created_at"),
        # What the expiry job scans: only the active ones with an expiry.
        sa.Index(
            "ix_consents_due",
            "expires_at",
            postgresql_where=sa.text(f"status = '{ConsentStatus.ACTIVE}'"),
            sqlite_where=sa.text(f"status = '{ConsentStatus.ACTIVE}'"),
        ),
        # The consents granted or revoked within a KPI window, and those active at its end
        # (kpis.py): the columns those counts test and group by are included, so PostgreSQL
        # answers from the index alone, without reading the consents' rows.
        sa.Index(
            "ix_consents_granted_at_kpis",
            "granted_at",
            postgresql_include=["revoked_at", "expires_at", "purpose", "recipient_type", "channel"],
        ),
        sa.Index(
            "ix_consents_revoked_at_kpis",
            "revoked_at",
            postgresql_include=["purpose", "recipient_type", "channel"],
        ),
        # Those expiring soon after a KPI window's end (kpis.py).
        sa.Index(
            "ix_consents_expires_at_kpis",
            "expires_at",
            postgresql_include=["granted_at", "revoked_at", "purpose", "recipient_type", "channel"],
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    # The customer; after erasure a keyed pseudonym of them.
    customer_id: Mapped[str] = mapped_column(sa.String(64))
    recipient: Mapped[str] = mapped_column(sa.String(100))
    recipient_type: Mapped[str] = mapped_column(sa.String(16))
    purpose: Mapped[str] = mapped_column(sa.String(32))
    data_categories: Mapped[list[str]] = mapped_column(sa.JSON())
    legal_basis: Mapped[str] = mapped_column(sa.String(32))
    channel: Mapped[str] = mapped_column(sa.String(16))
    language: Mapped[str] = mapped_column(sa.String(35))
    # The notice exactly as the customer saw it; never logged, never in events.
    notice_text: Mapped[str | None] = mapped_column(sa.Text())
    notice_text_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Maker and checker of a consent the bank requested.
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requested_by: Mapped[str | None] = mapped_column(sa.String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(sa.String(128))
    # When it became active, and who made it so (the customer, staff, or the approver).
    granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    granted_by: Mapped[str | None] = mapped_column(sa.String(128))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(sa.String(128))

    @property
    def current_status(self) -> str:
        if self.status == ConsentStatus.ACTIVE and self.expires_at is not None and self.expires_at <= now():
            return ConsentStatus.EXPIRED
        return self.status


class ConsentChange(Base):
    """One status transition of a consent, append-only: the status at any past time is the
    `to_status` of the last change at or before it."""

    __tablename__ = "consent_history"
    # A consent's status as of a time is its last change at or before it, by time and then id:
    # read backwards from this index, the first entry, with no sort.
    __table_args__ = (sa.Index("ix_consent_history_consent_id_at_id", "consent_id", "at", "id"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    consent_id: Mapped[str] = mapped_column(sa.ForeignKey("consents.id"))
    # Copied from the consent so that erasure can find and pseudonymise it.
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str] = mapped_column(sa.String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(sa.String(128))
    reason: Mapped[str | None] = mapped_column(sa.String(500))


outbox_table, inbox_table = add_messaging_tables(Base.metadata)
outbox = Outbox(outbox_table, source="consent")
audit = AuditTrail(Base.metadata)
legal_holds = add_legal_holds_table(Base.metadata)
# Customers as learnt from customer events: consents only for customers who exist.
known_customers = KnownCustomers(Base.metadata)
