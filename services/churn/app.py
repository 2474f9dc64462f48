"""Churn: features from platform and core-banking events, a trained early-warning model (rules
as the fallback), retention playbooks and tasks, loyalty points, churn KPIs."""

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from events.contracts import topics
from services.churn import models
from services.churn.features.events import ChurnEvents
from services.churn.kpis.routes import router as kpis
from services.churn.playbooks.routes import router as tasks
from services.churn.points import ledger
from services.churn.points.routes import router as points
from services.churn.risk.online import OnlineScorer
from services.churn.risk.routes import router as risk
from services.churn.settings import ChurnSettings
from services.kit.app import ServiceSpec
from services.kit.jobs import PeriodicJob


def spec() -> ServiceSpec:
    settings = ChurnSettings()
    scorer = OnlineScorer(settings)

    @asynccontextmanager
    async def resources(app: FastAPI):
        settings.models_path  # refuse to serve without a model directory (outside development)
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
        handlers=ChurnEvents(settings, scorer).handlers(),
        consumed_topics=[topics.CUSTOMER, topics.FEEDBACK, topics.COMPLAINT, topics.COREBANKING_ACTIVITY],
        jobs=[PeriodicJob("expire-points", every_seconds=3600, run=ledger.expire_due)],
        resources=resources,
    )
