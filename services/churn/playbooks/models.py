from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.churn.base import Base
from services.kit.db import UTCDateTime


class Intervention(Base):
    """A customer rose into a band: the playbook applied, or, for the hold-out group, deliberately not."""

    __tablename__ = "retention_interventions"
    # A KPI window's interventions (kpis/routes.py), counted from the index alone.
    __table_args__ = (
        sa.Index(
            "ix_retention_interventions_created_at_kpis",
            "created_at",
            postgresql_include=["customer_id", "band", "group"],
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    band: Mapped[str] = mapped_column(sa.String(8))
    previous_band: Mapped[str] = mapped_column(sa.String(8))
    # treated: the playbook ran; control: the stable hold-out group, no intervention.
    group: Mapped[str] = mapped_column(sa.String(8))
    probability: Mapped[float] = mapped_column(sa.Float())
    model: Mapped[str] = mapped_column(sa.String(32))
    reasons: Mapped[list[str]] = mapped_column(sa.JSON())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RetentionTask(Base):
    """Work for the customer's relationship manager: a call, a call-back, a survey."""

    __tablename__ = "retention_tasks"
    __table_args__ = (sa.CheckConstraint("status IN ('open', 'done', 'cancelled')", name="status_known"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    intervention_id: Mapped[str] = mapped_column(sa.ForeignKey("retention_interventions.id"), index=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    manager_id: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    band: Mapped[str] = mapped_column(sa.String(8))
    offer_points: Mapped[int] = mapped_column(sa.Integer())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(16))
    outcome: Mapped[str | None] = mapped_column(sa.String(32))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
