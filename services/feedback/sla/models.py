from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.feedback.db import Base
from services.kit.db import UTCDateTime


class SlaClock(Base):
    """One deadline of a case, stored (not a timer): a job claims rows whose `next_due_at` has
    come, so a restarted or scaled-out service still warns and escalates on time, and once.

    `state`: running, paused (waiting on the customer: deadlines move on by the pause when it
    ends), met (the clock's event happened) or stopped (the case ended without it).
    `next_due_at` is the next moment the job must act (the warning, then the breach); null when
    nothing is left to do."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "kind"),
        sa.Index(
            "ix_sla_clocks_due",
            "next_due_at",
            postgresql_where=sa.text("state = 'running'"),
            sqlite_where=sa.text("state = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"))
    customer_id: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(8))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    warning_at: Mapped[datetime] = mapped_column(UTCDateTime())
    breach_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    breached: Mapped[bool] = mapped_column(sa.Boolean(), default=False)
