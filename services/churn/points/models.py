from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.churn.base import Base
from services.kit.db import UTCDateTime


class PointsAccount(Base):
    """A customer's points balance: the sum of their movements, kept in the same transaction and
    locked (SELECT ... FOR UPDATE) by every movement; the CHECK is the last guard against overspending."""

    __tablename__ = "points_accounts"
    __table_args__ = (sa.CheckConstraint("balance >= 0", name="balance_not_negative"),)

    customer_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    balance: Mapped[int] = mapped_column(sa.Integer())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PointsMovement(Base):
    """One entry of the ledger, never edited: earn and positive adjustments add points (and expire
    after a while), redeem, expire and negative adjustments take them away."""

    __tablename__ = "points_movements"
    __table_args__ = (
        sa.CheckConstraint("points <> 0", name="points_not_zero"),
        sa.CheckConstraint("kind IN ('earn', 'redeem', 'expire', 'adjust')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    kind: Mapped[str] = mapped_column(sa.String(8))
    points: Mapped[int] = mapped_column(sa.Integer())
    # What caused it (an event id, a task, a caller's idempotency key): one movement per source.
    source_id: Mapped[str] = mapped_column(sa.String(160), unique=True)
    reason: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # For points added: when they lapse unless spent first (oldest points are spent first).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
