"""The gateway's access audit: one hash-chained row per call that reads or changes customer data."""

from sqlalchemy.orm import DeclarativeBase

from services.kit.audit import AuditTrail
from services.kit.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


access_audit = AuditTrail(Base.metadata)
