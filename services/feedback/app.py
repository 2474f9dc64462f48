"""Feedback: service cases with SLA clocks, surveys and the closed loop, service KPIs (R3.1, R3.3, R6.2)."""

from pathlib import Path

import sqlalchemy as sa

from events.contracts import topics
from services.feedback import models
from services.feedback.cases.routes import router as cases_router
from services.feedback.customers.handlers import HANDLERS
from services.feedback.declarations import CATALOGUE
from services.feedback.kpis.routes import router as kpis_router
from services.feedback.settings import FeedbackSettings
from services.feedback.sla.service import escalate_due
from services.feedback.surveys import invitations
from services.feedback.surveys.routes import router as surveys_router
from services.kit.app import ServiceSpec
from services.kit.catalogue import Category
from services.kit.jobs import PeriodicJob
from services.kit.retention import RetentionRule, legal_hold_handlers, retention_job

# A case reopened as a newer one is its history: it stays while the newer case does (which then
# goes first), so no kept case names a deleted one (`reopened_from`).
_REOPENING = models.Case.__table__.alias("reopening")
_NOT_REOPENED_LATER = ~sa.exists().where(_REOPENING.c.reopened_from == models.Case.__table__.c.id)

# Survey answers are behavioural data; cases are business records (regulatory complaint statistics),
# and a case's notes and clocks go with it.
RULES = [
    RetentionRule(
        "feedback",
        models.SurveyAnswer.__table__,
        Category.BEHAVIOUR,
        since=models.SurveyAnswer.received_at,
        customer=models.SurveyAnswer.customer_id,
    ),
    RetentionRule(
        "survey_invitations",
        models.SurveyInvitation.__table__,
        Category.BEHAVIOUR,
        since=models.SurveyInvitation.created_at,
        customer=models.SurveyInvitation.customer_id,
    ),
    RetentionRule(
        "cases",
        models.Case.__table__,
        Category.BUSINESS,
        since=models.Case.opened_at,
        customer=models.Case.customer_id,
        where=(_NOT_REOPENED_LATER,),
        dependents=(
            (models.CaseNote.__table__, models.CaseNote.case_id),
            (models.SlaClock.__table__, models.SlaClock.case_id),
        ),
    ),
]


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
        catalogue=CATALOGUE,
        handlers={**HANDLERS, **invitations.handlers(settings), **legal_hold_handlers(models.legal_holds)},
        consumed_topics=[topics.CUSTOMER, topics.CHURN],
        jobs=[
            PeriodicJob("escalate-sla", settings.sla_job_every_seconds, escalate),
            retention_job(RULES, settings.retention_days, models.legal_holds),
        ],
    )
