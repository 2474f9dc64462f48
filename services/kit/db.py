"""Database plumbing shared by every component: metadata, engine and sessions."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, DateTime, MetaData, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import QueryableAttribute
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
