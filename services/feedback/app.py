"""Feedback: survey answers and complaints (R3.1, R3.3)."""

from pathlib import Path

from events.contracts import topics
from services.feedback import models
from services.feedback.handlers import HANDLERS
from services.feedback.routes import router
from services.feedback.settings import FeedbackSettings
from services.kit.app import ServiceSpec


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="feedback",
        title="Feedback service",
        description="Satisfaction surveys (CSAT, NPS) and customer complaints.",
        settings=FeedbackSettings(),
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        outbox=models.outbox,
        inbox=models.inbox_table,
        handlers=HANDLERS,
        consumed_topics=[topics.CUSTOMER],
    )
