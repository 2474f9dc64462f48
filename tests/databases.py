"""Test databases: one PostgreSQL database per component, recreated empty for every run.

python -m tests.databases     creates them (CI calls this before `make test`; the test
                              session calls it too, so `make test` works on its own)
"""

import asyncio
import os

import asyncpg

from services.components import COMPONENTS

ADMIN_URL = os.environ.get("CRM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# Lets two test runs share one server without dropping each other's databases.
PREFIX = os.environ.get("CRM_TEST_DB_PREFIX", "crm_test")


def database_name(component: str, prefix: str = PREFIX) -> str:
    return f"{prefix}_{component}"


def database_url(component: str, prefix: str = PREFIX) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database_name(component, prefix)}"


async def recreate_one(component: str, prefix: str = PREFIX) -> str:
    """Drop and create one component's database; returns its SQLAlchemy URL."""
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        name = database_name(component, prefix)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return database_url(component, prefix)


async def recreate(prefix: str = PREFIX) -> dict[str, str]:
    """Drop and create every component's database; returns component -> SQLAlchemy URL."""
    return {component: await recreate_one(component, prefix) for component in COMPONENTS}


if __name__ == "__main__":
    urls = asyncio.run(recreate())
    print("test databases:", ", ".join(database_name(c) for c in urls))
