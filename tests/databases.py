"""Test databases: one PostgreSQL database per component, recreated for every run.

python -m tests.databases     creates them empty (CI calls this before `make test`; the test
                              session calls it too, so `make test` works on its own)

`migrated()` gives databases already at head without running the migrations each time: each
component's schema is migrated once into a template database, named after a fingerprint of its
migrations and models, and every test database is a `CREATE DATABASE ... TEMPLATE` copy of it.
A change to a migration, to the code it imports or to the models makes a new template; runs on
one server with different prefixes share the templates, and `python -m tests.databases` drops
those of schemas the checkout no longer has.
"""

import ast
import asyncio
import functools
import hashlib
import importlib.util
import os
from pathlib import Path

import asyncpg

from services.components import COMPONENTS

ADMIN_URL = os.environ.get("CRM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# Lets two test runs share one server without dropping each other's databases; each pytest-xdist
# worker of a run (`-n 2`) has databases of its own too.
PREFIX = os.environ.get("CRM_TEST_DB_PREFIX", "crm_test") + (
    f"_{os.environ['PYTEST_XDIST_WORKER']}" if "PYTEST_XDIST_WORKER" in os.environ else ""
)
TEMPLATE_PREFIX = "crm_tmpl"
ROOT = Path(__file__).resolve().parent.parent


def database_name(component: str, prefix: str = PREFIX) -> str:
    return f"{prefix}_{component}"


def database_url(component: str, prefix: str = PREFIX) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database_name(component, prefix)}"


async def recreate_one(component: str, prefix: str = PREFIX) -> str:
    """Drop and create one component's database, empty; returns its SQLAlchemy URL."""
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        name = database_name(component, prefix)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return database_url(component, prefix)


async def recreate(prefix: str = PREFIX, components: list[str] | None = None) -> dict[str, str]:
    """Drop and create every component's (or `components`') database, empty; returns
    component -> SQLAlchemy URL."""
    return {component: await recreate_one(component, prefix) for component in components or COMPONENTS}


@functools.cache
def schema_fingerprint(component: str) -> str:
    """Changes whenever the schema that `crm migrate <component>` builds may change: the migration
    files, the project modules they import, and the component's models."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    from services.components import spec_of

    spec = spec_of(component)
    digest = hashlib.sha256()
    sources = sorted(Path(spec.migrations).rglob("*.py"))
    imported: set[Path] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source.read_bytes())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found = importlib.util.find_spec(node.module)
                if found and found.origin and Path(found.origin).resolve().is_relative_to(ROOT):
                    imported.add(Path(found.origin).resolve())
    for source in [*sources, *sorted(imported)]:
        digest.update(str(source.resolve().relative_to(ROOT)).encode() + b"\0" + source.read_bytes() + b"\0")
    dialect = postgresql.dialect()
    for table in spec.metadata.sorted_tables:
        digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
    return digest.hexdigest()[:16]


def template_name(component: str) -> str:
    return f"{TEMPLATE_PREFIX}_{component}_{schema_fingerprint(component)}"


async def _build_template(connection: asyncpg.Connection, component: str, template: str) -> None:
    """Migrate a new database to head and rename it to `template` (so a template, once named,
    is complete)."""
    from services.components import spec_of
    from services.kit.migrations import upgrade

    building = f"{template}_build"
    await connection.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
    await connection.execute(f'CREATE DATABASE "{building}"')
    spec = spec_of(component)
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    # Alembic drives its own event loop: run it in a thread, off the caller's loop.
    await asyncio.to_thread(upgrade, spec.migrations, f"{base}/{building}", spec.metadata)
    # The migration's connections are closed; wait until the server has let them go.
    for _ in range(100):
        try:
            await connection.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
            break
        except asyncpg.ObjectInUseError:
            await asyncio.sleep(0.05)
    else:
        raise RuntimeError(f"{building} is still in use after its migration")
    # Nobody connects to a template: a connection would make every copy of it fail.
    await connection.execute(f'ALTER DATABASE "{template}" WITH ALLOW_CONNECTIONS false')


async def prune_templates() -> list[str]:
    """Drop the templates of schemas the checkout no longer has. Not done while building one:
    another checkout on the same server (a branch with another schema) may be copying its own."""
    current = {template_name(component) for component in COMPONENTS}
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        stale = [
            row["datname"]
            for row in await connection.fetch(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", f"{TEMPLATE_PREFIX}_"
            )
            if row["datname"] not in current
        ]
        for name in stale:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
    return stale


async def migrated_one(component: str, prefix: str = PREFIX) -> str:
    """Drop one component's database and create it again as a copy of its template, at head
    (building the template first if this schema has none yet); returns its SQLAlchemy URL."""
    template = template_name(component)
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        # One builder per component on the server, and no copy while a template is replaced.
        await connection.execute("SELECT pg_advisory_lock(hashtext($1))", f"{TEMPLATE_PREFIX}_{component}")
        try:
            if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", template):
                await _build_template(connection, component, template)
            name = database_name(component, prefix)
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            await connection.execute("SELECT pg_advisory_unlock(hashtext($1))", f"{TEMPLATE_PREFIX}_{component}")
    finally:
        await connection.close()
    return database_url(component, prefix)


async def migrated(prefix: str = PREFIX, components: list[str] | None = None) -> dict[str, str]:
    """Every component's (or `components`') database, recreated at head from its template;
    returns component -> SQLAlchemy URL."""
    return {component: await migrated_one(component, prefix) for component in components or COMPONENTS}


if __name__ == "__main__":
    urls = asyncio.run(recreate())
    print("test databases:", ", ".join(database_name(c) for c in urls))
    print("templates of old schemas dropped:", len(asyncio.run(prune_templates())))
