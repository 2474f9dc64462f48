"""The gateway's audit rows of concurrent calls committed together (gateway.audit.GroupCommit) on
a real PostgreSQL: each call returns only once its own row is committed, rows of concurrent
calls share one commit, a row the database refuses fails its own call only, and a database that
is away fails every call. The rows' `xmin` (the id of the transaction that wrote them) tells
which rows were committed together."""

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.audit import AuditWriteFailed, GroupCommit, access_audit


@pytest.fixture
async def engine(service_databases):
    engine = create_async_engine(await service_databases.url("gateway"), pool_size=5)
    yield engine
    await engine.dispose()


async def commits(engine, actor: str) -> list[int]:
    """How many of `actor`'s rows each transaction committed, in the order they were written."""
    async with engine.connect() as connection:
        found = await connection.execute(
            sa.text("SELECT count(*) FROM audit_log WHERE actor = :actor GROUP BY xmin::text::bigint ORDER BY min(id)"),
            {"actor": actor},
        )
        return [count for (count,) in found]


def row(actor: str, customer_id: str) -> dict:
    return access_audit.row(actor=actor, role="service_agent", action="GET /x", customer_id=customer_id)


async def committed(engine, actor: str) -> int:
    async with engine.connect() as connection:
        t = access_audit.table
        return await connection.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.actor == actor))


async def test_concurrent_calls_share_a_commit_and_each_returns_after_its_row_is_committed(engine):
    writer = GroupCommit(access_audit, engine)
    actor = "group-commit-1"

    async def call(i: int) -> int:
        await writer.record(row(actor, f"c-{i}"))
        return await committed(engine, actor)  # read on another connection once it returned

    try:
        seen_after = await asyncio.gather(*(call(i) for i in range(20)))
        assert await committed(engine, actor) == 20
        assert all(n >= 1 for n in seen_after)
        assert len(await commits(engine, actor)) < 20  # not one commit per call
        await writer.record(row(actor, "alone"))  # a lone call is written at once, on its own
        assert (await commits(engine, actor))[-1] == 1 and await committed(engine, actor) == 21
    finally:
        await writer.close()


async def test_a_refused_row_fails_its_own_call_only(engine):
    writer = GroupCommit(access_audit, engine)
    actor = "group-commit-2"
    too_long = "x" * 65  # customer_id is at most 64 characters
    try:
        results = await asyncio.gather(
            *(writer.record(row(actor, too_long if i == 3 else f"c-{i}")) for i in range(8)), return_exceptions=True
        )
    finally:
        await writer.close()
    assert [isinstance(r, AuditWriteFailed) for r in results] == [i == 3 for i in range(8)]
    assert await committed(engine, actor) == 7


async def test_every_call_fails_while_the_database_is_away(engine):
    away = create_async_engine(engine.url.set(port=1), pool_size=1)
    writer = GroupCommit(access_audit, away)
    try:
        results = await asyncio.gather(
            *(writer.record(row("away", f"c-{i}")) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, AuditWriteFailed) for r in results), results
    finally:
        await writer.close()
        await away.dispose()
