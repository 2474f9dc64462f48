"""Which customers exist, as a component learns them from `customer.*` events (it never reads
the profile database): components that accept a customer id from a caller (consent, feedback)
refuse ids of customers that do not exist or were erased. A component may keep more of what the
events say about each customer (its manager, its tier) in columns of its own on the same table.

    known = KnownCustomers(Base.metadata, *extra_columns)    # models.py
    create_known_customers_table(op)                         # the migration that adds it
    handlers={**known.handlers(), ...}                       # app.py
    await known.require(session, customer_id)                # before writing for a customer
    await known.remember(session, customer_id, tier=...)     # from a component's own handlers
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import CustomerCreatedV1
from events.contracts.envelope import Envelope
from events.store import upsert_insert
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
    def __init__(self, metadata: sa.MetaData, *extra: sa.Column):
        self.table = sa.Table(TABLE, metadata, *_columns(), *extra)
        self.c = self.table.c

    async def require(self, session: AsyncSession, customer_id: str, *columns: sa.Column) -> Row:
        """The customer's `columns` (of the component's own); 404 for a customer never
        announced or erased."""
        row = await self._current(session, customer_id, *columns)
        if row is None:
            raise NotFound("No customer has this id.")
        return row

    async def exists(self, session: AsyncSession, customer_id: str) -> bool:
        """Whether the customer was announced and not erased (what `require` refuses otherwise)."""
        return await self._current(session, customer_id) is not None

    async def _current(self, session: AsyncSession, customer_id: str, *columns: sa.Column) -> Row | None:
        """The customer's row (`erased_at` and `columns`), unless never announced or erased."""
        query = sa.select(self.c.erased_at, *columns).where(self.c.customer_id == customer_id)
        row = (await session.execute(query)).first()
        return row if row is not None and row.erased_at is None else None

    async def remember(self, session: AsyncSession, customer_id: str, **values) -> None:
        """Record the customer (if new) with `values`, or update those values of a known one."""
        insert = upsert_insert(session, self.table).values(customer_id=customer_id, **values)
        keys = [self.c.customer_id.name]
        await session.execute(
            insert.on_conflict_do_update(index_elements=keys, set_=values)
            if values
            else insert.on_conflict_do_nothing(index_elements=keys)
        )

    async def created(self, session: AsyncSession, envelope: Envelope, payload: CustomerCreatedV1) -> None:
        await self.remember(session, payload.customer_id)

    async def erased(self, session: AsyncSession, customer_id: str, at: datetime, **values) -> None:
        await self.remember(session, customer_id, erased_at=at, **values)

    def handlers(self) -> dict:
        """`customer.created` only; `customer.erased` is the component's own handler, which calls
        `erased` along with what else erasure means for it. A component keeping columns of its
        own handles `customer.created` itself too, with `remember`."""
        return {"customer.created": self.created}
