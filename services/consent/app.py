"""Consent: the customer's permissions to use and share their data (R2.4, R6.1)."""

from pathlib import Path

from services.consent import models
from services.consent.routes import router
from services.consent.settings import ConsentSettings
from services.kit.app import ServiceSpec, build_app


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="consent",
        title="Consent service",
        description="Data-sharing consents: purpose, data categories, recipient, expiry; grant and revoke.",
        settings=ConsentSettings(),
        metadata=models.Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        outbox=models.outbox,
        inbox=models.inbox_table,
    )


def create_app():
    return build_app(spec())
