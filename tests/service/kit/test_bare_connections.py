"""The decision path's stack of bare connections (services.kit.db.BareConnections) on a real
PostgreSQL: bounded, and a connection a call leaves in doubt is replaced, never handed out."""

import asyncio

import asyncpg
import pytest

from services.kit.db import BareConnections
from tests import databases

PID = "SELECT pg_backend_pid() AS pid"


async def pid(connections: BareConnections) -> int:
    return (await connections.fetch(PID))[0]["pid"]


async def test_at_most_size_connections_serve_concurrent_calls():
    connections = BareConnections(databases.ADMIN_URL, 2)
    try:
        rows = await asyncio.gather(
            *(connections.fetch("SELECT pg_backend_pid() AS pid, pg_sleep(0.1)") for _ in range(6))
        )
        assert len({r[0]["pid"] for r in rows}) == 2
    finally:
        await connections.close()


async def test_a_refused_statement_keeps_the_connection_and_a_cancelled_call_drops_it():
    connections = BareConnections(databases.ADMIN_URL, 1)
    try:
        first = await pid(connections)
        with pytest.raises(asyncpg.PostgresError):
            await connections.fetch("SELECT no_such_column FROM pg_class")
        assert await pid(connections) == first

        slow = asyncio.create_task(connections.fetch("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.3)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert await pid(connections) != first  # a fresh connection, not one mid-statement
    finally:
        await connections.close()


async def test_a_connection_the_server_ended_is_replaced():
    connections = BareConnections(databases.ADMIN_URL, 1)
    admin = await asyncpg.connect(databases.ADMIN_URL)
    try:
        first = await pid(connections)
        await admin.execute("SELECT pg_terminate_backend($1)", first)
        await asyncio.sleep(0.5)  # the driver sees the socket close
        assert await pid(connections) != first
    finally:
        await admin.close()
        await connections.close()


async def test_each_run_of_a_statement_answers_in_order_and_a_refused_run_keeps_the_connection():
    connections = BareConnections(databases.ADMIN_URL, 1)
    try:
        first = await pid(connections)
        rows = await connections.fetch_each("SELECT $1::int AS n, pg_backend_pid() AS pid", [(3,), (1,), (2,)])
        assert [(r["n"], r["pid"]) for r in rows] == [(3, first), (1, first), (2, first)]
        with pytest.raises(asyncpg.DivisionByZeroError):
            await connections.fetch_each("SELECT 1 / $1::int AS n", [(1,), (0,), (2,)])
        assert await pid(connections) == first
    finally:
        await connections.close()
