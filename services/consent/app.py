"""Consent: the customer's permissions to use and share their data (R2.4, R6.1)."""

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from events.contracts import topics
from services.consent import handlers, models, service
from services.consent.routes import router
from services.consent.settings import ConsentSettings
from services.kit.app import ServiceSpec
from services.kit.jobs import PeriodicJob


def spec() -> ServiceSpec:
    settings = ConsentSettings()

    @asynccontextmanager
    async def resources(app: FastAPI):
        async with service.DecisionReader.open(settings.database_url, settings.decision_pool_size) as reader:
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
        routers=[router],
        outbox=models.outbox,
        inbox=models.inbox_table,
        handlers={"customer.erased": handlers.on_customer_erased(settings)},
        consumed_topics=[topics.CUSTOMER],
        audit=models.audit,
        resources=resources,
        jobs=[PeriodicJob(name="expire-consents", every_seconds=settings.expiry_check_seconds, run=service.expire_due)],
    )
