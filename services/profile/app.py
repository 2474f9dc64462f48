"""Profile: the system of record for who the customer is."""

from pathlib import Path

from events.contracts import topics
from services.kit.app import ServiceSpec
from services.kit.audit import audit_router
from services.profile import holdings, kpis, models, segments
from services.profile.declarations import CATALOGUE
from services.profile.documents import flag_expiring_documents_job
from services.profile.documents_routes import router as documents_router
from services.profile.handlers import HANDLERS
from services.profile.retention import apply_retention_job, reannounce_erasures_job
from services.profile.routes import read_router, router
from services.profile.screening import kpis as compliance_kpis
from services.profile.screening.book import rescreen_book_job
from services.profile.screening.routes import router as screening_router
from services.profile.segments_routes import router as segments_router
from services.profile.settings import ProfileSettings


def spec() -> ServiceSpec:
    settings = ProfileSettings()
    return ServiceSpec(
        name="profile",
        title="Profile service",
        description="Customers: identity, contact data, assets and risk level.",
        settings=settings,
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[
            read_router,
            router,
            documents_router,
            segments_router,
            screening_router,
            kpis.router,
            compliance_kpis.router,
            audit_router(models.audit),
        ],
        outbox=models.outbox,
        inbox=models.inbox_table,
        audit=models.audit,
        catalogue=CATALOGUE,
        jobs=[
            flag_expiring_documents_job(settings),
            apply_retention_job(settings),
            reannounce_erasures_job(settings),
            rescreen_book_job(settings),
            *segments.jobs(settings),
        ],
        # The risk level from assessments; activity (the customer's interactions with the bank)
        # for tiers and dormancy; the products core banking reports, for tiers.
        handlers={**HANDLERS, **segments.HANDLERS, **holdings.handlers(settings)},
        consumed_topics=[
            topics.RISK_ASSESSMENT,
            topics.FEEDBACK,
            topics.COMPLAINT,
            topics.CONSENT,
            topics.COREBANKING_HOLDINGS,
        ],
    )
