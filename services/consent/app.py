"""Consent: the customer's permissions to use and share their data (R2.4, R6.1)."""

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI

from events.contracts import topics
from events.contracts.terms import ConsentStatus
from services.consent import handlers, kpis, models, service
from services.consent.declarations import CATALOGUE
from services.consent.routes import decisions_router, router
from services.consent.settings import ConsentSettings
from services.kit.app import ServiceSpec
from services.kit.audit import audit_router
from services.kit.catalogue import Category
from services.kit.jobs import PeriodicJob
from services.kit.retention import RetentionRule, legal_hold_handlers, retention_job
from services.kit.supervise import Backoff, supervise

C, H = models.Consent, models.ConsentChange
# A consent is proof as long as the business limit after it ended (revoked, rejected, expired);
# then it goes with its history.
RULES = [
    RetentionRule(
        "ended-consents",
        C.__table__,
        Category.BUSINESS,
        since=sa.func.coalesce(C.revoked_at, C.decided_at, C.expires_at, C.created_at),
        customer=C.customer_id,
        where=(C.status.in_([ConsentStatus.REVOKED, ConsentStatus.REJECTED, ConsentStatus.EXPIRED]),),
        dependents=((H.__table__, H.consent_id),),
    ),
]


@asynccontextmanager
async def _index_kept_current(index: service.DecisionIndex | None):
    """This replica's own consent changes drop what the index holds of their customers as they
    commit; everyone's consent events, as they arrive."""
    if index is None:
        yield
        return
    follower = asyncio.create_task(supervise("decision_index_follower", index.follower.follow, Backoff(initial=1.0)))
    try:
        with models.outbox.committed_listener(index.forget):
            yield
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)


def spec() -> ServiceSpec:
    settings = ConsentSettings()

    @asynccontextmanager
    async def resources(app: FastAPI):
        index = None
        # Not in an app without background work (one service in process): nothing would keep it current.
        if settings.decision_index_customers and app.state.background:
            index = service.DecisionIndex(
                settings.kafka(),
                customers=settings.decision_index_customers,
                ttl_seconds=settings.decision_index_ttl_seconds,
            )
        async with (
            service.DecisionReader.open(settings.database_url, settings.decision_statements_in_flight, index) as reader,
            _index_kept_current(reader.index if reader is not None else None),
        ):
            app.state.decisions = reader
            yield

    return ServiceSpec(
        name="consent",
        title="Consent service",
        description="Data-sharing consents: purpose, data categories, recipient, expiry, notice; maker-checker "
        "approval, revocation, receipts, and decisions on whether a share is allowed.",
        settings=settings,
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[decisions_router, router, kpis.router, audit_router(models.audit)],
        outbox=models.outbox,
        inbox=models.inbox_table,
        handlers={
            **models.known_customers.handlers(),
            "customer.erased": handlers.on_customer_erased(settings),
            **legal_hold_handlers(models.legal_holds),
        },
        consumed_topics=[topics.CUSTOMER],
        followed_topics=[topics.CONSENT],  # the decision index (service.DecisionIndex)
        audit=models.audit,
        catalogue=CATALOGUE,
        resources=resources,
        jobs=[
            PeriodicJob(name="expire-consents", every_seconds=settings.expiry_check_seconds, run=service.expire_due),
            PeriodicJob(name="flush-decision-tallies", every_seconds=2.0, run=kpis.decisions.flush),
            retention_job(RULES, settings.retention_days, models.legal_holds),
        ],
    )
