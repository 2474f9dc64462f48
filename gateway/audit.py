"""The gateway's access audit: one row per call that reads or changes customer data."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from events.envelope import now
from services.kit.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class AccessRecord(Base):
    __tablename__ = "access_audit"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(sa.String(128), index=True)
    role: Mapped[str] = mapped_column(sa.String(64))
    customer_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    method: Mapped[str] = mapped_column(sa.String(8))
    route: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[int] = mapped_column(sa.Integer())
    # Names (never values) of the protected fields the caller received in clear.
    fields_in_clear: Mapped[str] = mapped_column(sa.String(500))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    request_id: Mapped[str | None] = mapped_column(sa.String(128))


async def record_access(engine: AsyncEngine, **fields) -> None:
    fields["fields_in_clear"] = ",".join(sorted(fields["fields_in_clear"]))
    async with engine.begin() as connection:
        await connection.execute(sa.insert(AccessRecord).values(at=now(), **fields))
