"""The gateway's access audit: one hash-chained row per call that reads or changes customer data."""

import asyncio

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase

from services.kit.audit import AuditTrail
from services.kit.db import BareConnections, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


access_audit = AuditTrail(Base.metadata)


class AuditWriteFailed(Exception):
    """A call's access row was not committed (refused, or the database away); its cause says why."""


class GroupCommit:
    """Writes the access rows of concurrent calls together: while one INSERT commits, the rows
    of the calls that finish meanwhile wait, and go in the next one (one statement, one commit,
    one WAL flush for all of them). Each call still waits until its own row is committed before
    its answer leaves; a lone call is written at once. If the database refuses a batch's statement
    (one row it will not take), each row is written on its own, so one call's failure is only
    its own; any other failure (database away) fails every call of the batch, as it would have
    one by one.

    On PostgreSQL the batches go over one bare connection (batches are written one at a time),
    as one statement of column arrays; on the embedded database, through the engine."""

    MAX_ROWS = 500

    def __init__(self, trail: AuditTrail, engine: AsyncEngine):
        self.trail = trail
        self.engine = engine
        self._bare = BareConnections.for_url(engine.url, 1)
        self._pending: list[tuple[dict, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, row: dict) -> None:
        """Returns once `row` (from `AuditTrail.row`) is committed; raises AuditWriteFailed if not."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        # Shielded: a caller that goes away does not take the batch's commit with it.
        await asyncio.shield(done)

    async def close(self) -> None:
        if self._bare is not None:
            await self._bare.close()

    async def _insert(self, rows: list[dict]) -> None:
        if self._bare is not None:
            await self.trail.insert_rows_bare(self._bare, rows)
            return
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await self.trail.insert_rows(connection, rows)

    async def _write(self) -> None:
        batch: list[tuple[dict, asyncio.Future[None]]] = []
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.MAX_ROWS], self._pending[self.MAX_ROWS :]
                await self._commit(batch)
                batch = []
        except BaseException as error:  # cancelled (shutting down): no call waits for ever
            for _, done in [*batch, *self._pending]:
                _settle(done, error if isinstance(error, Exception) else ConnectionAbortedError("shutting down"))
            self._pending = []
            raise
        finally:
            self._writer = None

    async def _commit(self, batch: list[tuple[dict, asyncio.Future[None]]]) -> None:
        try:
            await self._insert([row for row, _ in batch])
        except Exception as error:
            # The statement was refused (not the connection lost): find the row, each on its own.
            if len(batch) > 1 and _refused(error):
                for one in batch:
                    await self._commit([one])
                return
            for _, done in batch:
                _settle(done, error)
        else:
            for _, done in batch:
                _settle(done, None)


def _refused(error: Exception) -> bool:
    """The server refused the statement; the connection is sound."""
    if isinstance(error, asyncpg.PostgresError):
        return True
    return isinstance(error, DBAPIError) and error.statement is not None and not error.connection_invalidated


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        failure = AuditWriteFailed(type(error).__name__)
        failure.__cause__ = error
        done.set_exception(failure)
