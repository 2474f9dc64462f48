"""Feedback: service cases with SLA clocks, surveys and the closed loop, service KPIs (R3.1, R3.3, R6.2)."""

from pathlib import Path

from events.contracts import topics
from services.feedback import models
from services.feedback.cases.routes import router as cases_router
from services.feedback.customers.handlers import HANDLERS
from services.feedback.kpis.routes import router as kpis_router
from services.feedback.settings import FeedbackSettings
from services.feedback.sla.service import escalate_due
from services.feedback.surveys.routes import router as surveys_router
from services.kit.app import ServiceSpec
from services.kit.jobs import PeriodicJob


def spec() -> ServiceSpec:
    settings = FeedbackSettings()

    async def escalate(sessions) -> int:
        return await escalate_due(sessions, settings)

    return ServiceSpec(
        name="feedback",
        title="Feedback service",
        description="Service cases with SLA clocks, satisfaction surveys (CSAT, NPS, CES) and the closed loop, "
                    "service KPIs.",
        settings=settings,
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[cases_router, surveys_router, kpis_router],
        outbox=models.outbox,
        inbox=models.inbox_table,
        handlers=HANDLERS,
        consumed_topics=[topics.CUSTOMER],
        jobs=[PeriodicJob("escalate-sla", settings.sla_job_every_seconds, escalate)],
    )
