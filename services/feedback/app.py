"""Feedback: survey answers and complaints (R3.1, R3.3)."""

from pathlib import Path

from events.contracts import topics
from services.feedback import models
from services.feedback.handlers import HANDLERS
from services.feedback.routes import router
from services.feedback.settings import FeedbackSettings
from services.kit.app import ServiceSpec
from services.kit.catalogue import Category
from services.kit.retention import RetentionRule, legal_hold_handlers, retention_job
from services.feedback.declarations import CATALOGUE


# Survey answers are behavioural data; complaints are business records (regulatory statistics).
RULES = [
    RetentionRule("feedback", models.Feedback.__table__, Category.BEHAVIOUR, since=models.Feedback.received_at,
                  customer=models.Feedback.customer_id),
    RetentionRule("complaints", models.Complaint.__table__, Category.BUSINESS, since=models.Complaint.opened_at,
                  customer=models.Complaint.customer_id),
]


def spec() -> ServiceSpec:
    settings = FeedbackSettings()
    return ServiceSpec(
        name="feedback",
        title="Feedback service",
        description="Satisfaction surveys (CSAT, NPS) and customer complaints.",
        settings=settings,
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        outbox=models.outbox,
        inbox=models.inbox_table,
        catalogue=CATALOGUE,
        handlers={**HANDLERS, **legal_hold_handlers(models.legal_holds)},
        jobs=[retention_job(RULES, settings.retention_days, models.legal_holds)],
        consumed_topics=[topics.CUSTOMER],
    )
