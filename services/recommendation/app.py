"""Recommendation: risk assessments, products, holdings, hard suitability rules, and ranked,
explained recommendations with their proof."""

from pathlib import Path

from events.contracts import topics
from services.kit.app import ServiceSpec
from services.kit.catalogue import Category
from services.kit.retention import RetentionRule, legal_hold_handlers, retention_job
from services.recommendation import models
from services.recommendation.declarations import CATALOGUE
from services.recommendation.handlers import HANDLERS
from services.recommendation.holdings.routes import router as holdings_router
from services.recommendation.holdings.service import learn_popularity_job
from services.recommendation.kpis import router as kpis_router
from services.recommendation.products.routes import router as products_router
from services.recommendation.questionnaire.routes import router as questionnaire_router
from services.recommendation.recommendations.routes import router as recommendations_router
from services.recommendation.settings import RecommendationSettings
from services.recommendation.suitability.routes import router as suitability_router

# The read model of a customer no event has touched for the business limit expires (the risk
# level in it is kept no longer than the record it belongs to).
RULES = [
    RetentionRule(
        "customers",
        models.Customer.__table__,
        Category.BUSINESS,
        since=models.Customer.last_event_time,
        customer=models.Customer.customer_id,
    ),
]


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
        routers=[
            questionnaire_router,
            products_router,
            holdings_router,
            suitability_router,
            recommendations_router,
            kpis_router,
        ],
        outbox=models.outbox,
        inbox=models.inbox_table,
        audit=models.audit,
        catalogue=CATALOGUE,
        handlers={**HANDLERS, **legal_hold_handlers(models.legal_holds)},
        consumed_topics=[topics.CUSTOMER, topics.CONSENT, topics.COREBANKING_HOLDINGS],
        jobs=[
            learn_popularity_job(settings.popularity_refresh_seconds),
            retention_job(RULES, settings.retention_days, models.legal_holds),
        ],
    )
