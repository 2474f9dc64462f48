"""Churn: per-customer features from events, an explainable risk score, warnings on high risk."""

from pathlib import Path

from events.contracts import topics
from services.churn import handlers, models
from services.churn.routes import router
from services.churn.settings import ChurnSettings
from services.kit.app import ServiceSpec
from services.kit.catalogue import Category
from services.kit.retention import RetentionRule, legal_hold_handlers, retention_job
from services.churn.declarations import CATALOGUE


# Features are behavioural: they expire when no event has touched them for the behaviour limit.
RULES = [
    RetentionRule("customer-features", models.CustomerFeatures.__table__, Category.BEHAVIOUR,
                  since=models.CustomerFeatures.updated_at, customer=models.CustomerFeatures.customer_id),
]


def spec() -> ServiceSpec:
    settings = ChurnSettings()
    return ServiceSpec(
        name="churn",
        title="Churn service",
        description="Churn risk per customer (0-100, low/medium/high) from complaints, feedback and assets.",
        settings=settings,
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        outbox=models.outbox,
        inbox=models.inbox_table,
        catalogue=CATALOGUE,
        handlers={
            "customer.created": handlers.on_customer_changed,
            "customer.updated": handlers.on_customer_changed,
            "customer.erased": handlers.on_customer_erased,
            "feedback.received": handlers.on_feedback_received,
            "complaint.opened": handlers.on_complaint_opened,
            **legal_hold_handlers(models.legal_holds),
        },
        jobs=[retention_job(RULES, settings.retention_days, models.legal_holds)],
        consumed_topics=[topics.CUSTOMER, topics.FEEDBACK, topics.COMPLAINT],
    )
