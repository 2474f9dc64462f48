"""The gateway's access audit: one hash-chained row per call that reads or changes customer data,
except a call whose service recorded the access itself (gateway/proxy.py, `recorded_upstream`)."""

from collections.abc import Sequence

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase

from services.kit.audit import AuditTrail
from services.kit.batching import Coalescer
from services.kit.db import BareConnections, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


access_audit = AuditTrail(Base.metadata)


class AuditWriteFailed(Exception):
    """A call's access row was not committed (refused, or the database away); its cause says why."""


class GroupCommit:
    """Writes the access rows of concurrent calls together (services/kit/batching.py): while one
    INSERT commits, the rows of the calls that finish meanwhile wait, and go in the next one (one
    statement, one commit, one WAL flush for all of them). Each call still waits until its own
    row is committed before its answer leaves; a lone call is written at once. If the database
    refuses a batch's statement (one row it will not take), each row is written on its own, so
    one call's failure is only its own; any other failure (database away) fails every call of
    the batch, as it would have one by one.

    On PostgreSQL the batches go over one bare connection (batches are written one at a time),
    as one statement of column arrays; on the embedded database, through the engine."""

    MAX_ROWS = 500

    def __init__(self, trail: AuditTrail, engine: AsyncEngine):
        self.trail = trail
        self.engine = engine
        self._bare = BareConnections.for_url(engine.url, 1)
        self._rows: Coalescer[dict, Exception | None] = Coalescer(self._commit, in_flight=1, most=self.MAX_ROWS)

    async def record(self, row: dict) -> None:
        """Returns once `row` (from `AuditTrail.row`) is committed; raises AuditWriteFailed if not."""
        error = await self._rows.ask(row)
        if error is not None:
            raise AuditWriteFailed(type(error).__name__) from error

    async def close(self) -> None:
        await self._rows.close()
        if self._bare is not None:
            await self._bare.close()

    async def _insert(self, rows: list[dict]) -> None:
        if self._bare is not None:
            await self.trail.insert_rows_bare(self._bare, rows)
            return
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await self.trail.insert_rows(connection, rows)

    async def _commit(self, rows: Sequence[dict]) -> list[Exception | None]:
        """Each row's failure (None: committed)."""
        try:
            await self._insert(list(rows))
        except Exception as error:
            # The statement was refused (not the connection lost): find the row, each on its own.
            if len(rows) > 1 and _refused(error):
                return [(await self._commit([row]))[0] for row in rows]
            return [error] * len(rows)
        return [None] * len(rows)


def _refused(error: Exception) -> bool:
    """The server refused the statement; the connection is sound."""
    if isinstance(error, asyncpg.PostgresError):
        return True
    return isinstance(error, DBAPIError) and error.statement is not None and not error.connection_invalidated
