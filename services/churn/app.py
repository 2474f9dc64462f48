"""Churn: features from platform and core-banking events, a trained early-warning model (rules
as the fallback), retention playbooks and tasks, loyalty points, churn KPIs."""

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from events.contracts import topics
from services.churn import models
from services.churn.declarations import CATALOGUE
from services.churn.features import value
from services.churn.features.events import ChurnEvents
from services.churn.kpis.routes import router as kpis
from services.churn.model import drift
from services.churn.playbooks.routes import router as tasks
from services.churn.points import ledger
from services.churn.points.routes import router as points
from services.churn.risk.online import OnlineScorer
from services.churn.risk.routes import router as risk
from services.churn.settings import ChurnSettings
from services.kit.app import ServiceSpec
from services.kit.catalogue import Category
from services.kit.jobs import PeriodicJob
from services.kit.retention import RetentionRule, legal_hold_handlers, retention_job

# Features are behavioural: they expire when no event has touched them for the behaviour limit.
# Tasks and interventions are business records of the retention work; points are a financial ledger
# (kept for the business limit after the last movement is enough: the account row dates it).
RULES = [
    RetentionRule(
        "customer-features",
        models.CustomerFeatures.__table__,
        Category.BEHAVIOUR,
        since=models.CustomerFeatures.updated_at,
        customer=models.CustomerFeatures.customer_id,
    ),
    RetentionRule(
        "retention-tasks",
        models.RetentionTask.__table__,
        Category.BUSINESS,
        since=models.RetentionTask.created_at,
        customer=models.RetentionTask.customer_id,
    ),
]


def spec() -> ServiceSpec:
    settings = ChurnSettings()
    scorer = OnlineScorer(settings)

    @asynccontextmanager
    async def resources(app: FastAPI):
        settings.models_path  # noqa: B018 - reading it refuses to serve without a model directory (outside development)
        app.state.churn_scorer = scorer
        yield

    return ServiceSpec(
        name="churn",
        title="Churn service",
        description="Churn risk per customer (model or rules, explained), retention tasks, loyalty points, churn KPIs.",
        settings=settings,
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[risk, tasks, points, kpis],
        outbox=models.outbox,
        inbox=models.inbox_table,
        catalogue=CATALOGUE,
        handlers={**ChurnEvents(settings, scorer).handlers(), **legal_hold_handlers(models.legal_holds)},
        consumed_topics=[
            topics.CUSTOMER,
            topics.FEEDBACK,
            topics.COMPLAINT,
            topics.COREBANKING_ACTIVITY,
            topics.COREBANKING_HOLDINGS,
        ],
        jobs=[
            PeriodicJob("expire-points", every_seconds=3600, run=ledger.PointsExpiry()),
            PeriodicJob("revalue-customers", every_seconds=60, run=value.revalue_job(settings)),
            PeriodicJob("measure-drift", every_seconds=900, run=drift.measure_drift_job(scorer)),
            retention_job(RULES, settings.retention_days, models.legal_holds),
        ],
        resources=resources,
    )
