"""Recommendation: the product catalogue and suitable, explained recommendations per customer."""

from pathlib import Path

from events.contracts import topics
from services.kit.app import ServiceSpec
from services.kit.catalogue import Category
from services.kit.retention import RetentionRule, legal_hold_handlers, retention_job
from services.recommendation.declarations import CATALOGUE
from services.recommendation import models
from services.recommendation.handlers import HANDLERS
from services.recommendation.routes import router
from services.recommendation.settings import RecommendationSettings


# The read model of a customer no event has touched for the business limit expires (the risk
# level in it is kept no longer than the record it belongs to).
RULES = [
    RetentionRule("customers", models.Customer.__table__, Category.BUSINESS, since=models.Customer.last_event_time,
                  customer=models.Customer.customer_id),
]


def spec() -> ServiceSpec:
    settings = RecommendationSettings()
    return ServiceSpec(
        name="recommendation",
        title="Recommendation service",
        description="Product catalogue (risk R1-R5) and recommendations within each customer's risk level (C1-C5).",
        settings=settings,
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        inbox=models.inbox_table,
        catalogue=CATALOGUE,
        handlers={**HANDLERS, **legal_hold_handlers(models.legal_holds)},
        jobs=[retention_job(RULES, settings.retention_days, models.legal_holds)],
        consumed_topics=[topics.CUSTOMER, topics.CONSENT],
    )
