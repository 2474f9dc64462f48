"""One Alembic tree per component, driven from code: `crm migrate <component>`."""

import asyncio
import functools
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kit.db import create_engine


def alembic_config(migrations_dir: Path, database_url: str, metadata: sa.MetaData | None = None) -> Config:
    """`metadata` is the component's whole schema (its ServiceSpec's), which autogenerate and the
    drift check compare against; each tree's env.py takes it from here. Applying migrations
    needs none."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    # The URL travels in attributes, not the ini file: it holds credentials and '%' characters.
    config.attributes["database_url"] = database_url
    config.attributes["target_metadata"] = metadata
    return config


def upgrade(
    migrations_dir: Path, database_url: str, metadata: sa.MetaData | None = None, revision: str = "head"
) -> None:
    """Safe to run from every replica at once (an init container per pod, every release): on
    PostgreSQL the migrations run under an advisory lock, so one applies them and the others
    then find the schema at head and do nothing."""
    command.upgrade(alembic_config(migrations_dir, database_url, metadata), revision)


def new_revision(migrations_dir: Path, database_url: str, metadata: sa.MetaData, message: str) -> None:
    """Autogenerate a revision from the difference between the database (at head) and the models,
    numbered after the head (0011 after 0010), from the template every component shares
    (services/kit/script.py.mako, linked into each migrations folder)."""
    config = alembic_config(migrations_dir, database_url, metadata)
    [head] = ScriptDirectory.from_config(config).get_heads()
    command.revision(config, message=message, autogenerate=True, rev_id=f"{int(head) + 1:04d}")


def differences(connection: sa.Connection, metadata: sa.MetaData) -> list:
    """What autogenerate would change to make the database match `metadata` (empty when in step)."""
    migration_context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(migration_context, metadata)


def heads(migrations_dir: Path) -> set[str]:
    """The head revisions. Alembic executes every revision file to find them, so they are read
    once per state of the versions folder (each app start asks; tests start apps by the hundred)."""
    versions = Path(migrations_dir) / "versions"
    state = tuple(sorted((entry.name, entry.stat().st_mtime_ns) for entry in os.scandir(versions)))
    return set(_heads(str(migrations_dir), state))


@functools.lru_cache(maxsize=16)
def _heads(migrations_dir: str, state: tuple) -> frozenset[str]:
    del state  # part of the cache key only
    config = alembic_config(Path(migrations_dir), "", sa.MetaData())
    return frozenset(ScriptDirectory.from_config(config).get_heads())


async def applied(engine: AsyncEngine) -> set[str]:
    """The revisions the database is at; empty when it was never migrated."""
    async with engine.connect() as connection:
        has_table = await connection.run_sync(lambda c: sa.inspect(c).has_table("alembic_version"))
        if not has_table:
            return set()
        return set((await connection.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars())


def run_env() -> None:
    """Body of every component's `migrations/env.py` (online mode only; always async)."""
    target_metadata = context.config.attributes["target_metadata"]

    def do_run(connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
            compare_type=True,
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
