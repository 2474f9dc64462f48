"""Session fixtures: the broker, fresh PostgreSQL databases, and the whole system running.

KAFKA_BOOTSTRAP_SERVERS, when set (CI sets it), names a running broker to use; otherwise the
session starts its own. Databases are recreated at head on CRM_TEST_POSTGRES (default: the local
server) for every run. CRM_TEST_COMPONENTS (comma-separated) runs only some components, for
working on one service.
"""

import asyncio
import os

import httpx
import pytest

from events.broker import LocalBroker
from events.kafka import create_topics
from services.kit.identity import caller_headers
from tests import databases
from tests.support import AsyncApiConformance, KafkaProbe, System, free_port


@pytest.fixture(scope="session")
def bootstrap_servers():
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        asyncio.run(create_topics(external))
        yield external
        return
    broker = LocalBroker(free_port())
    broker.start()
    yield broker.bootstrap_servers
    broker.stop()


@pytest.fixture(scope="session")
def postgres_urls() -> dict[str, str]:
    """Every component's database, at head (a copy of its migrated template: tests/databases.py)."""
    return asyncio.run(databases.migrated())


@pytest.fixture(scope="session")
def system(postgres_urls, bootstrap_servers, tmp_path_factory):
    only = os.environ.get("CRM_TEST_COMPONENTS")
    running = System(
        database_urls=postgres_urls,
        bootstrap_servers=bootstrap_servers,
        workdir=tmp_path_factory.mktemp("system"),
        components=only.split(",") if only else None,
        at_head=True,
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session", autouse=True)
def published_events_match_asyncapi(bootstrap_servers):
    """At the end of the session, every event the components published on the session's broker
    (whatever the tests did) is checked against events/contracts/asyncapi.yaml."""
    yield
    asyncio.run(AsyncApiConformance().check_broker(bootstrap_servers))


@pytest.fixture(scope="session")
def kafka(bootstrap_servers) -> KafkaProbe:
    return KafkaProbe(bootstrap_servers)


@pytest.fixture
async def client():
    """Calls services directly as the gateway itself unless a test sends another caller's
    credential (services refuse anonymous calls); the gateway ignores the credential."""
    async with httpx.AsyncClient(timeout=30, headers=caller_headers("gateway", "gateway")) as http:
        yield http
