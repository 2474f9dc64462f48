"""Recommendation: risk assessments, products, holdings, hard suitability rules, and ranked,
explained recommendations with their proof."""

from pathlib import Path

from events.contracts import topics
from services.kit.app import ServiceSpec
from services.recommendation import models
from services.recommendation.handlers import HANDLERS
from services.recommendation.holdings.routes import router as holdings_router
from services.recommendation.holdings.service import learn_popularity_job
from services.recommendation.kpis import router as kpis_router
from services.recommendation.products.routes import router as products_router
from services.recommendation.questionnaire.routes import router as questionnaire_router
from services.recommendation.recommendations.routes import router as recommendations_router
from services.recommendation.settings import RecommendationSettings
from services.recommendation.suitability.routes import router as suitability_router


def spec() -> ServiceSpec:
    settings = RecommendationSettings()
    return ServiceSpec(
        name="recommendation",
        title="Recommendation service",
        description="Risk assessments (C1-C5), products (R1-R5), holdings, hard suitability rules and ranked, "
                    "explained recommendations, each decision stored with its proof.",
        settings=settings,
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[questionnaire_router, products_router, holdings_router, suitability_router, recommendations_router,
                 kpis_router],
        outbox=models.outbox,
        inbox=models.inbox_table,
        audit=models.audit,
        handlers=HANDLERS,
        consumed_topics=[topics.CUSTOMER, topics.CONSENT, topics.COREBANKING_HOLDINGS],
        jobs=[learn_popularity_job(settings.popularity_refresh_seconds)],
    )
