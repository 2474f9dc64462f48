"""The gateway's audit rows of concurrent calls committed together (gateway.audit.GroupCommit) on
a real PostgreSQL: each call returns only once its own row is committed, rows of concurrent
calls share one INSERT, a row the database refuses fails its own call only, and a database that
is away fails every call."""

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.audit import GroupCommit, access_audit


@pytest.fixture
async def engine(service_databases):
    engine = create_async_engine(await service_databases.url("gateway"), pool_size=5)
    yield engine
    await engine.dispose()


def inserts_counted(engine) -> list[int]:
    """How many rows each INSERT into audit_log carried."""
    seen: list[int] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(_connection, _cursor, statement, parameters, _context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            seen.append(len(parameters) if executemany else 1)

    return seen


def row(actor: str, customer_id: str) -> dict:
    return access_audit.row(actor=actor, role="service_agent", action="GET /x", customer_id=customer_id)


async def committed(engine, actor: str) -> int:
    async with engine.connect() as connection:
        t = access_audit.table
        return await connection.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.actor == actor))


async def test_concurrent_calls_share_a_commit_and_each_returns_after_its_row_is_committed(engine):
    writer = GroupCommit(access_audit, engine)
    inserts = inserts_counted(engine)
    actor = "group-commit-1"

    async def call(i: int) -> int:
        await writer.record(row(actor, f"c-{i}"))
        return await committed(engine, actor)  # read on another connection once it returned

    seen_after = await asyncio.gather(*(call(i) for i in range(20)))
    assert await committed(engine, actor) == 20
    assert all(n >= 1 for n in seen_after)
    assert sum(inserts) == 20
    assert len(inserts) < 20  # not one commit per call
    await writer.record(row(actor, "alone"))  # a lone call is written at once, on its own
    assert inserts[-1] == 1 and await committed(engine, actor) == 21


async def test_a_refused_row_fails_its_own_call_only(engine):
    writer = GroupCommit(access_audit, engine)
    actor = "group-commit-2"
    too_long = "x" * 65  # customer_id is at most 64 characters
    results = await asyncio.gather(
        *(writer.record(row(actor, too_long if i == 3 else f"c-{i}")) for i in range(8)), return_exceptions=True
    )
    assert [isinstance(r, SQLAlchemyError) for r in results] == [i == 3 for i in range(8)]
    assert await committed(engine, actor) == 7


async def test_every_call_fails_while_the_database_is_away(engine):
    away = create_async_engine(engine.url.set(port=1), pool_size=1)
    writer = GroupCommit(access_audit, away)
    try:
        results = await asyncio.gather(
            *(writer.record(row("away", f"c-{i}")) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, (SQLAlchemyError, OSError)) for r in results), results
    finally:
        await away.dispose()
