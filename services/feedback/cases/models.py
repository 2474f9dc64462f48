from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.feedback.db import Base
from services.feedback.declarations import CATALOGUE
from services.kit.db import UTCDateTime


class Case(Base):
    """A service request, complaint or detractor follow-up. `description` is free text and may
    hold personal data: encrypted, never logged or published, masked for roles that may not read it.
    `tier` is the customer's tier when the case was opened (for the KPI breakdowns)."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.Index("ix_cases_opened_at", "opened_at"),
        sa.Index("ix_cases_customer_id_opened_at", "customer_id", "opened_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    category: Mapped[str] = mapped_column(sa.String(32))
    channel: Mapped[str] = mapped_column(sa.String(16))
    priority: Mapped[str] = mapped_column(sa.String(8))
    complexity: Mapped[str] = mapped_column(sa.String(8))
    product: Mapped[str | None] = mapped_column(sa.String(64))
    tier: Mapped[str | None] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(24), index=True)
    # Null once the customer is erased; the rest stays for the statistics.
    description: Mapped[str | None] = mapped_column(CATALOGUE.column_type("cases", "description", sa.Text()))
    assignee: Mapped[str | None] = mapped_column(sa.String(128))
    team: Mapped[str | None] = mapped_column(sa.String(64))
    root_cause: Mapped[str | None] = mapped_column(sa.String(64))
    reopened_from: Mapped[str | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    # The survey answer a follow-up case follows up.
    answer_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    opened_by: Mapped[str] = mapped_column(sa.String(128))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla_breached: Mapped[bool] = mapped_column(sa.Boolean(), default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseNote(Base):
    """A member of staff's note on a case; `body` is encrypted free text."""

    __tablename__ = "case_notes"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    author: Mapped[str] = mapped_column(sa.String(128))
    body: Mapped[str | None] = mapped_column(CATALOGUE.column_type("case_notes", "body", sa.Text()))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
