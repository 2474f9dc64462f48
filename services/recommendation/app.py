"""Recommendation: the product catalogue and suitable, explained recommendations per customer."""

from pathlib import Path

from events.contracts import topics
from services.kit.app import ServiceSpec
from services.recommendation import models
from services.recommendation.handlers import HANDLERS
from services.recommendation.routes import router
from services.recommendation.settings import RecommendationSettings


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="recommendation",
        title="Recommendation service",
        description="Product catalogue (risk R1-R5) and recommendations within each customer's risk level (C1-C5).",
        settings=RecommendationSettings(),
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        inbox=models.inbox_table,
        handlers=HANDLERS,
        consumed_topics=[topics.CUSTOMER, topics.CONSENT],
    )
