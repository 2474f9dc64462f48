"""One Alembic tree per component, driven from code: `crm migrate <component>`."""

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kit.db import create_engine


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    # The URL travels in attributes, not the ini file: it holds credentials and '%' characters.
    config.attributes["database_url"] = database_url
    return config


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    """Safe to run from every replica at once (an init container per pod, every release): on
    PostgreSQL the migrations run under an advisory lock, so one applies them and the others
    then find the schema at head and do nothing."""
    command.upgrade(alembic_config(migrations_dir, database_url), revision)


def heads(migrations_dir: Path) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(migrations_dir, "")).get_heads())


async def applied(engine: AsyncEngine) -> set[str]:
    """The revisions the database is at; empty when it was never migrated."""
    async with engine.connect() as connection:
        has_table = await connection.run_sync(lambda c: sa.inspect(c).has_table("alembic_version"))
        if not has_table:
            return set()
        return set((await connection.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars())


def run_env(target_metadata: sa.MetaData) -> None:
    """Body of every component's `migrations/env.py` (online mode only; always async)."""

    def do_run(connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Held until the migrations commit; a concurrent `crm migrate` waits, then finds head.
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('crm_migrate'))"))
            context.run_migrations()

    async def run() -> None:
        engine = create_engine(context.config.attributes["database_url"])
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run())
