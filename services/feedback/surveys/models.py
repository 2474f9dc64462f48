from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.feedback.db import Base
from services.feedback.declarations import CATALOGUE
from services.kit.db import UTCDateTime


class SurveyAnswer(Base):
    """One survey answer (CSAT, NPS or CES). `comment` is free text and may hold personal data:
    encrypted, never logged or published, masked for roles that may not read it. `tier` is the
    customer's tier when they answered; `product` the product the rated interaction concerned."""

    __tablename__ = "feedback"
    __table_args__ = (
        # KPIs read a window of answers by time and nothing else: the index covers them.
        sa.Index(
            "ix_feedback_received_at", "received_at", "survey", "score", "detractor", "channel", "tier", "product"
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    survey: Mapped[str] = mapped_column(sa.String(8))
    score: Mapped[int] = mapped_column(sa.SmallInteger())
    channel: Mapped[str] = mapped_column(sa.String(16))
    comment: Mapped[str | None] = mapped_column(CATALOGUE.column_type("feedback", "comment", sa.Text()))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    invitation_id: Mapped[str | None] = mapped_column(sa.String(36), unique=True)
    case_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    interaction_id: Mapped[str | None] = mapped_column(sa.String(64))
    tier: Mapped[str | None] = mapped_column(sa.String(16))
    product: Mapped[str | None] = mapped_column(sa.String(64))
    detractor: Mapped[bool] = mapped_column(sa.Boolean(), default=False)


class SurveyInvitation(Base):
    """An invitation to answer one survey once, without a staff login. The token is the
    credential: 256 random bits, handed out once, stored only as its SHA-256
    (services/feedback/surveys/invitations.py)."""

    __tablename__ = "survey_invitations"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    survey: Mapped[str] = mapped_column(sa.String(8))
    channel: Mapped[str] = mapped_column(sa.String(16))
    case_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    interaction_id: Mapped[str | None] = mapped_column(sa.String(64))
    product: Mapped[str | None] = mapped_column(sa.String(64))
    created_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
