"""Rows held back from a scanned table during a long transaction (services.kit.db.HeldBack), on
a real PostgreSQL: none is in the table until they are released, then all are, in the order they
were added (by COPY and by INSERT); the scanning task is woken by the commit, not before; and a
rollback leaves neither rows nor the holding table behind."""

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from gateway.audit import access_audit
from services.kit.db import COPY_MIN_ROWS, HeldBack

TABLE = access_audit.table


@pytest.fixture
async def engine(service_databases):
    engine = create_async_engine(await service_databases.url("gateway"), pool_size=2)
    yield engine
    await engine.dispose()


def rows(actor: str, count: int) -> list[dict]:
    return access_audit.rows_for(
        actor=actor, role="system", action="import", customer_ids=[f"c-{i:04d}" for i in range(count)]
    )


async def in_table(connection, actor: str) -> list[str]:
    found = await connection.execute(sa.select(TABLE.c.customer_id).where(TABLE.c.actor == actor).order_by(TABLE.c.id))
    return list(found.scalars())


async def holding_tables(connection) -> int:
    return await connection.scalar(sa.text("SELECT count(*) FROM pg_class WHERE relname LIKE 'held_audit_log_%'"))


async def test_held_rows_join_the_table_at_release_in_order_and_wake_the_scanner_at_commit(engine):
    actor, wake = f"held-{uuid.uuid4().hex[:8]}", asyncio.Event()
    held = HeldBack(TABLE, wake)
    first, second = rows(actor, COPY_MIN_ROWS + 50), rows(actor, 3)  # by COPY, then by INSERT
    second = [{**row, "customer_id": f"late-{i}"} for i, row in enumerate(second)]
    async with async_sessionmaker(engine)() as session, session.begin():
        await held.add(session, first)
        await held.add(session, second)
        connection = await session.connection()
        assert await in_table(connection, actor) == []  # not even within the transaction
        await held.release(session)
        assert await in_table(connection, actor) == [r["customer_id"] for r in first + second]
        assert not wake.is_set()
    assert wake.is_set()
    async with engine.connect() as connection:
        assert len(await in_table(connection, actor)) == len(first) + len(second)
        assert await holding_tables(connection) == 0


async def test_a_rolled_back_transaction_leaves_no_rows_no_holding_table_and_no_wake(engine):
    actor, wake = f"held-{uuid.uuid4().hex[:8]}", asyncio.Event()
    held = HeldBack(TABLE, wake)
    async with async_sessionmaker(engine)() as session:
        async with session.begin():
            await held.add(session, rows(actor, COPY_MIN_ROWS))
            await held.release(session)
            await session.rollback()
    assert not wake.is_set()
    async with engine.connect() as connection:
        assert await in_table(connection, actor) == []
        assert await holding_tables(connection) == 0
