"""Database plumbing shared by every component: metadata, engine and sessions."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Column, ColumnElement, DateTime, MetaData, Table, any_, bindparam, event, make_url, text
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlalchemy.types import TypeDecorator

# A column of a table (`table.c.name`) or of a mapped class (`Model.name`).
ColumnLike = ColumnElement[Any] | QueryableAttribute[Any]

# Deterministic constraint names, so migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timestamp that is always time-zone aware (UTC) in Python, on PostgreSQL and on SQLite
    (which stores no zone and would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type:
        return datetime  # what keyset cursors (services/kit/pagination.py) decode a value to

    def process_bind_param(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware (UTC) value")
        return value.astimezone(UTC) if value is not None and dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_metadata() -> MetaData:
    """A fresh MetaData for one component's tables (each component owns its own database)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, settings=None) -> AsyncEngine:
    """The component's engine; `settings` (ComponentSettings) sizes the PostgreSQL pool.

    No pre-ping on checkout (it cost a round trip per session): connections are recycled after
    `db_pool_recycle_seconds`, and a connection found dead is handled once: SQLAlchemy sees the
    disconnect, invalidates the whole pool, and the next checkouts open fresh connections (the
    one request that met the dead connection answers 503, a background loop retries)."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets readers run beside the single writer; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    from services.kit.settings import ComponentSettings

    pool = settings or ComponentSettings.model_construct()
    return create_async_engine(
        url,
        pool_size=pool.db_pool_size,
        max_overflow=pool.db_max_overflow,
        pool_recycle=pool.db_pool_recycle_seconds,
        pool_timeout=pool.db_pool_timeout_seconds,
        pool_pre_ping=False,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


# A request-scoped session; handlers open `async with session.begin():` around each unit of work
# so a state change and its outbox event commit together.
SessionDep = Annotated[AsyncSession, Depends(_session)]


def one_of(dialect_name: str, column: ColumnLike, values: list) -> ColumnElement[bool]:
    """`column IN values` as one array parameter on PostgreSQL (`= ANY($1)`): the statement is the
    same whatever the number of values, so it is compiled and prepared once instead of carrying
    one bind parameter per value; a plain IN elsewhere."""
    if dialect_name != "postgresql":
        return column.in_(values)
    from sqlalchemy.dialects.postgresql import ARRAY

    return column == any_(bindparam(None, values, type_=ARRAY(column.type)))


# Below this many rows a multi-row INSERT (one pipelined round trip) costs about what COPY does.
COPY_MIN_ROWS = 200


_WAKE_AFTER_COMMIT = "wake_after_commit"


def wake_after_commit(session: AsyncSession, wake: asyncio.Event) -> None:
    """Set `wake` when the session's transaction commits, and not if it rolls back. A background
    task that reads what the transaction wrote (the outbox relay, the audit sealer) is then woken
    once the rows are visible to it, not to scan rows it cannot see yet: a long transaction (a
    bulk import) would wake it for every chunk, and each scan would walk every row written so far."""
    session.sync_session.info.setdefault(_WAKE_AFTER_COMMIT, set()).add(wake)


_CALL_AFTER_COMMIT = "call_after_commit"


def call_after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Call `callback` (quick, synchronous, never raising) when the session's transaction
    commits, and not if it rolls back: e.g. to drop what a cache holds of the rows it changed."""
    session.sync_session.info.setdefault(_CALL_AFTER_COMMIT, []).append(callback)


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    for wake in session.info.pop(_WAKE_AFTER_COMMIT, ()):
        wake.set()
    for callback in session.info.pop(_CALL_AFTER_COMMIT, ()):
        callback()


@event.listens_for(Session, "after_rollback")
def _nothing_to_wake_after_rollback(session: Session) -> None:
    session.info.pop(_WAKE_AFTER_COMMIT, None)
    session.info.pop(_CALL_AFTER_COMMIT, None)


async def insert_many(session: AsyncSession | AsyncConnection, table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts keyed by column name, all with the same keys) into `table`, in the
    caller's transaction. On PostgreSQL, from COPY_MIN_ROWS rows on, by binary COPY: a fraction
    of the work per row of an INSERT, for the database and for us. Either way each column's own
    bind processing applies (field encryption, time zones) and Python-side scalar defaults are
    filled in; a constraint violation raises sqlalchemy's IntegrityError as an INSERT would."""
    if not rows:
        return
    connection = await _connection_of(session)
    await write_bound(connection, BoundRows.of(connection.dialect, table, rows))


@dataclass(frozen=True)
class BoundRows:
    """Rows for one table, bound for their write ahead of it (`of`): the CPU of binding (field
    encryption, type conversion) can then run while the database works on something else, and
    the write (`write_bound`) is one bare round trip. On PostgreSQL, from COPY_MIN_ROWS rows on,
    `records` holds binary COPY records; otherwise the rows go by INSERT as given."""

    table: Table
    rows: list[dict]
    names: list[str]  # the columns of each record: the rows' own, then Python-side defaults
    records: list[tuple] | None

    @classmethod
    def of(cls, dialect: Dialect, table: Table, rows: list[dict]) -> "BoundRows":
        if dialect.name != "postgresql" or len(rows) < COPY_MIN_ROWS:
            return cls(table, rows, list(rows[0]) if rows else [], None)
        given = list(rows[0])
        defaults: dict[str, Any] = {}
        for column in table.columns:
            default = column.default
            if column.key in rows[0] or default is None:
                continue
            if not isinstance(default, ScalarElementColumnDefault):
                raise ValueError(f"{table.name}.{column.key}: give a value (its default is computed per row)")
            defaults[column.key] = default.arg
        names = given + list(defaults)
        width, count = len(given), len(rows)
        for row in rows:
            if len(row) != width:
                raise ValueError(f"rows for {table.name} must all name the same columns")
        # Column by column: each column's bind processing runs over all its values in one call
        # where the type offers it (`bind_many`, e.g. field encryption), else value by value.
        columns: list[list] = [[row[name] for row in rows] for name in given]
        columns += [[default] * count for default in defaults.values()]
        for i, name in enumerate(names):
            impl = table.c[name].type.dialect_impl(dialect)
            bind_many = getattr(impl, "bind_many", None)
            if isinstance(impl, TypeDecorator) and bind_many is not None:
                # What the decorator's own bind processor does value by value: its step, then its impl's.
                columns[i] = bind_many(columns[i])
                process = impl.impl_instance.bind_processor(dialect)
            else:
                process = impl.bind_processor(dialect)
            if process is not None:
                columns[i] = [process(value) for value in columns[i]]
        return cls(table, rows, names, list(zip(*columns, strict=True)))

    def only(self, keep: Sequence[bool]) -> "BoundRows":
        """The rows whose `keep` is true (one flag per row, in order)."""
        rows = [row for row, kept in zip(self.rows, keep, strict=True) if kept]
        if self.records is None:
            return BoundRows(self.table, rows, self.names, None)
        records = [record for record, kept in zip(self.records, keep, strict=True) if kept]
        return BoundRows(self.table, rows, self.names, records)


async def _connection_of(session: AsyncSession | AsyncConnection) -> AsyncConnection:
    if isinstance(session, AsyncSession):
        await session.flush()  # pending ORM rows first, as an INSERT's autoflush would
        return await session.connection()
    return session


async def write_bound(session: AsyncSession | AsyncConnection, bound: BoundRows, into: Table | None = None) -> None:
    """Write `bound` into its table (or `into`, a table with the same columns), in the caller's
    transaction; a constraint violation raises sqlalchemy's IntegrityError as an INSERT would."""
    if not bound.rows:
        return
    connection = await _connection_of(session)
    table = bound.table if into is None else into
    if bound.records is None:
        await connection.execute(table.insert(), bound.rows)
        return
    import asyncpg

    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None  # an open connection's asyncpg connection
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN with the first statement; COPY must not run outside it.
        await connection.execute(text("SELECT 1"))
    try:
        await driver.copy_records_to_table(
            table.name, schema_name=table.schema, records=bound.records, columns=[table.c[n].name for n in bound.names]
        )
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(f"COPY {table.name}", None, error) from error


_HELD_ORDER = "held_order"  # the holding table's column for the order rows arrived in


class HeldBack:
    """Rows for a table that a background task scans for what is new (the outbox relay, the
    audit sealer), held back from it while one long transaction (a bulk import) writes them chunk
    by chunk, and moved into it by one statement just before the transaction commits.

    On PostgreSQL a scan does not see another transaction's uncommitted rows, but it still walks
    them in the index: every scan while the import runs would walk all the rows it has written
    so far (10 ms a scan at 100,000 rows, growing with the file), and each commit elsewhere in
    the service starts one. Held back in a temporary table (no index, no WAL, dropped at commit
    or rollback), they are in the scanned table only for the last statement. On the embedded
    database (one process, no such scan) they go straight in."""

    def __init__(self, table: Table, wake: asyncio.Event):
        self.table = table
        self.wake = wake  # set when rows moved into the table are committed
        self._held: Table | None = None

    async def add(self, session: AsyncSession, rows: list[dict]) -> None:
        if rows:
            connection = await session.connection()
            await self.add_bound(session, BoundRows.of(connection.dialect, self.table, rows))

    async def add_bound(self, session: AsyncSession, bound: BoundRows) -> None:
        """Rows bound for the table ahead of their write (BoundRows.of), held back as `add`'s are."""
        if not bound.rows:
            return
        connection = await session.connection()
        if connection.dialect.name != "postgresql":
            await write_bound(session, bound)
            wake_after_commit(session, self.wake)
            return
        if self._held is None:
            self._held = await self._hold(connection, bound.names)
        await write_bound(session, bound, into=self._held)

    async def release(self, session: AsyncSession) -> None:
        """Move the held rows into the table, in the order they were added."""
        if self._held is None:
            return
        names = ", ".join(f'"{c.name}"' for c in self._held.columns)
        await session.execute(
            text(
                f'INSERT INTO "{self.table.name}" ({names}) SELECT {names} FROM "{self._held.name}" '
                f"ORDER BY {_HELD_ORDER}"
            )
        )
        self._held = None
        wake_after_commit(session, self.wake)

    async def _hold(self, connection: AsyncConnection, names: list[str]) -> Table:
        """A temporary table with the named columns of the table, their types, and the order of
        arrival; dropped when the transaction ends."""
        held = Table(
            f"held_{self.table.name}_{uuid.uuid4().hex[:12]}",
            MetaData(),
            *(Column(name, self.table.c[name].type) for name in names),
        )
        columns = ", ".join(f'"{name}"' for name in names)
        await connection.execute(
            text(
                f'CREATE TEMPORARY TABLE "{held.name}" ON COMMIT DROP '
                f'AS SELECT {columns} FROM "{self.table.name}" WITH NO DATA'
            )
        )
        await connection.execute(
            text(f'ALTER TABLE "{held.name}" ADD COLUMN {_HELD_ORDER} bigint GENERATED ALWAYS AS IDENTITY')
        )
        return held


class BareConnections:
    """Up to `size` bare asyncpg connections for one hot read path, outside any transaction: a
    stack of idle connections handed out and given back without asyncpg.Pool's bookkeeping
    (which costs more CPU per call than the query itself). A connection is opened when first
    needed; one that a call leaves in doubt (closed, cancelled or failed mid-protocol) is
    dropped, and its place is opened afresh on the next call."""

    @classmethod
    def for_url(cls, database_url: str | URL, size: int) -> "BareConnections | None":
        """Bare connections to the database of a SQLAlchemy URL; None unless it is PostgreSQL
        (the embedded database keeps the SQLAlchemy path)."""
        url = make_url(database_url)
        if url.get_backend_name() != "postgresql":
            return None
        return cls(url.set(drivername="postgresql").render_as_string(hide_password=False), size)

    def __init__(self, dsn: str, size: int):
        self._dsn = dsn
        self._idle: asyncio.LifoQueue = asyncio.LifoQueue()
        for _ in range(size):
            self._idle.put_nowait(None)  # a place, its connection not yet open
        self._open: set = set()

    async def fetch(self, query: str, *args) -> list:
        """The rows of one run of `query`."""
        return await self._on_a_connection(lambda connection: connection.fetch(query, *args))

    async def fetch_each(self, query: str, each_args: Sequence[Sequence]) -> list:
        """The rows of `query` run once per set of arguments, all in one round trip (the runs
        pipelined, as asyncpg's `fetchmany`), one list in that order. Many asks of one cheap
        indexed statement cost the server far less this way than as one statement over arrays."""
        return await self._on_a_connection(lambda connection: connection.fetchmany(query, each_args))

    async def _on_a_connection(self, call: Callable[[Any], Awaitable[list]]) -> list:
        import asyncpg

        connection = self._idle.get_nowait() if self._idle.qsize() else await self._idle.get()
        try:
            if connection is None or connection.is_closed():
                self._open.discard(connection)
                connection = None
                connection = await asyncpg.connect(self._dsn)
                self._open.add(connection)
            rows = await call(connection)
        except asyncpg.PostgresError:
            self._idle.put_nowait(connection)  # the server refused the statement; the connection is sound
            raise
        except BaseException:
            if connection is not None:
                self._open.discard(connection)
                connection.terminate()
            self._idle.put_nowait(None)
            raise
        self._idle.put_nowait(connection)
        return rows

    async def close(self) -> None:
        for connection in list(self._open):
            await connection.close(timeout=5)
        self._open.clear()
