"""Which customers exist, as a component learns them from `customer.*` events (it never reads
the profile database): components that accept a customer id from a caller (consent, feedback)
refuse ids of customers that do not exist or were erased.

    known = KnownCustomers(Base.metadata)          # models.py
    create_known_customers_table(op)               # the migration that adds it
    handlers={**known.handlers(), ...}             # app.py
    await known.require(session, customer_id)      # before writing for a customer
"""

from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import CustomerCreatedV1
from events.contracts.envelope import Envelope
from services.kit.db import UTCDateTime
from services.kit.problems import NotFound

TABLE = "known_customers"


def _columns() -> list[sa.Column]:
    return [
        sa.Column("customer_id", sa.String(64), primary_key=True),
        # Set when the customer was erased: their id is refused from then on.
        sa.Column("erased_at", UTCDateTime(), nullable=True),
    ]


def create_known_customers_table(op) -> None:
    op.create_table(TABLE, *_columns())


class KnownCustomers:
    def __init__(self, metadata: sa.MetaData):
        self.table = sa.Table(TABLE, metadata, *_columns())

    async def require(self, session: AsyncSession, customer_id: str) -> None:
        row = (
            await session.execute(sa.select(self.table.c.erased_at).where(self.table.c.customer_id == customer_id))
        ).first()
        if row is None or row.erased_at is not None:
            raise NotFound("No customer has this id.")

    async def created(self, session: AsyncSession, envelope: Envelope, payload: CustomerCreatedV1) -> None:
        exists = await session.scalar(
            sa.select(self.table.c.customer_id).where(self.table.c.customer_id == payload.customer_id)
        )
        if exists is None:
            await session.execute(sa.insert(self.table).values(customer_id=payload.customer_id))

    async def erased(self, session: AsyncSession, customer_id: str, at: datetime) -> None:
        update = sa.update(self.table).where(self.table.c.customer_id == customer_id).values(erased_at=at)
        updated = cast(CursorResult, await session.execute(update))  # an UPDATE's result has a rowcount
        if updated.rowcount == 0:
            await session.execute(sa.insert(self.table).values(customer_id=customer_id, erased_at=at))

    def handlers(self) -> dict:
        """`customer.created` only; `customer.erased` is the component's own handler, which calls
        `erased` along with what else erasure means for it."""
        return {"customer.created": self.created}
