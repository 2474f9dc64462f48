"""Churn: per-customer features from events, an explainable risk score, warnings on high risk."""

from pathlib import Path

from events.contracts import topics
from services.churn import handlers, models
from services.churn.routes import router
from services.churn.settings import ChurnSettings
from services.kit.app import ServiceSpec


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="churn",
        title="Churn service",
        description="Churn risk per customer (0-100, low/medium/high) from complaints, feedback and assets.",
        settings=ChurnSettings(),
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        outbox=models.outbox,
        inbox=models.inbox_table,
        handlers={
            "customer.created": handlers.on_customer_changed,
            "customer.updated": handlers.on_customer_changed,
            "customer.erased": handlers.on_customer_erased,
            "feedback.received": handlers.on_feedback_received,
            "complaint.opened": handlers.on_complaint_opened,
        },
        consumed_topics=[topics.CUSTOMER, topics.FEEDBACK, topics.COMPLAINT],
    )
