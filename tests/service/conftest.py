"""Service tier: one component in process, on its own real PostgreSQL database, with no broker
and no server processes. Requests go through `httpx.ASGITransport`; events are fed straight to
the component's handlers (with the real inbox), and its published events are read from its outbox.

    async def test_something(service):
        profile = await service("profile")
        answer = await profile.client("relationship_manager", "rm-1").get("/api/v1/customers")
        await profile.deliver(envelope)           # as if consumed from the broker
        events = await profile.published("customer.created")
"""

import functools
import os
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from events.contracts import event_type as contract
from events.contracts.envelope import Envelope
from events.kafka import event_headers
from services.components import spec_of
from services.kit.app import ServiceSpec, build_app
from services.kit.db import create_engine
from services.kit.identity import caller_headers
from services.kit.settings import ComponentSettings
from tests import databases
from tests.support import AsyncApiConformance, customer_created

PREFIX = f"{databases.PREFIX}_svc"


class InProcessService:
    """A component's app, running its lifespan, with helpers to drive and observe it."""

    def __init__(self, name: str, app, spec):
        self.name = name
        self.app = app
        self.spec = spec

    @property
    def sessions(self):
        return self.app.state.sessions

    @property
    def engine(self):
        return self.app.state.engine

    def client(self, role: str | None = None, subject: str | None = None, **identity) -> httpx.AsyncClient:
        """An HTTP client calling the app as `role` (anonymous when None), as the gateway would."""
        headers = caller_headers(role, subject, **identity) if role else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=f"http://{self.name}", headers=headers, timeout=30
        )

    async def deliver(self, envelope: Envelope) -> None:
        """Apply an event exactly as the consumer would (inbox included)."""
        await self.app.state.consumer.apply(envelope)

    async def run_job(self, name: str) -> int:
        """Run one of the component's scheduled jobs until it finds nothing more to do."""
        job = next(job for job in self.spec.jobs if job.name == name)
        total = 0
        while handled := await job.run(self.sessions):
            total += handled
        return total

    async def know_customer(self, customer_id: str) -> None:
        """Let the component learn that the customer exists, as from the profile service."""
        await self.deliver(customer_created(customer_id))

    async def published(self, event_type: str | None = None, *, customer_id: str | None = None) -> list[Envelope]:
        """Events this component has staged in its outbox, oldest first. Each one returned is
        checked against events/contracts/asyncapi.yaml as the relay would publish it (its topic,
        record key and headers), as the system tier checks every record on its broker."""
        table = self.spec.outbox.table
        query = sa.select(table.c.id, table.c.aggregateid, table.c.type, table.c.payload).order_by(table.c.position)
        if event_type is not None:
            query = query.where(table.c.type.startswith(f"{event_type}.v", autoescape=True))
        if customer_id is not None:
            query = query.where(table.c.aggregateid == customer_id)  # the record key: the customer id
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        found = []
        for row in rows:
            name, version = row.type.rsplit(".v", 1)
            headers = event_headers(row.id, name, version, self.spec.outbox.source)
            topic = contract(name, int(version)).topic
            assert _conformance().check(topic, row.aggregateid.encode(), row.payload.encode(), headers)
            found.append(Envelope.model_validate_json(row.payload))
        return found

    async def outbox_row(self, event: Envelope) -> sa.Row:
        """The outbox row of a staged event: the relay sends its `id` as the `event_id` header,
        routes by its `type` (`<event type>.v<version>`) and keys the record by `aggregateid`."""
        table = self.spec.outbox.table
        async with self.engine.connect() as connection:
            query = sa.select(table.c.id, table.c.type, table.c.aggregateid).where(table.c.id == str(event.id))
            return (await connection.execute(query)).one()


@functools.cache
def _conformance() -> AsyncApiConformance:
    return AsyncApiConformance()


class ServiceDatabases:
    """Each component's database, created at head (a copy of its migrated template, see
    tests/databases.py) the first time a test asks for it in this session (so a run of one
    service's tests prepares only that database).

    A module whose work grows with everything in the database (re-screening the whole book, say)
    overrides the `service_databases` fixture with databases of its own under another prefix."""

    def __init__(self, prefix: str = PREFIX) -> None:
        self.prefix = prefix
        self.urls: dict[str, str] = {}

    async def url(self, component: str) -> str:
        if component not in self.urls:
            self.urls[component] = url = await databases.migrated_one(component, prefix=self.prefix)
            await _engines.database_made_anew(url)
        # Set on every call: another module's databases may have been the last ones used.
        os.environ[f"{component.upper()}_DATABASE_URL"] = self.urls[component]
        return self.urls[component]


@pytest.fixture(scope="session")
def service_databases() -> ServiceDatabases:
    return ServiceDatabases()


class KeptEngines:
    """The engines of the built apps. Each keeps its open connections from test to test (opening
    them again in every test took a quarter of the tier's time): at most two idle ones, and only
    the `KEPT` engines used last keep any, since a worker builds tens of apps and the server
    allows a hundred connections. A pool resets each connection it takes back (rollback), and no
    code holds session state on one (its advisory locks are per transaction)."""

    KEPT = 8

    def __init__(self) -> None:
        self.by_url: dict[str, list[AsyncEngine]] = {}
        self.recent: OrderedDict[AsyncEngine, None] = OrderedDict()  # the last used at the end

    def new(self, url: str, settings: ComponentSettings) -> AsyncEngine:
        engine = create_engine(url, settings.model_copy(update={"db_pool_size": 2, "db_max_overflow": 30}))
        self.by_url.setdefault(url, []).append(engine)
        return engine

    async def used(self, engine: AsyncEngine) -> None:
        self.recent.pop(engine, None)
        self.recent[engine] = None
        while len(self.recent) > self.KEPT:
            oldest, _ = self.recent.popitem(last=False)
            await oldest.dispose()  # its connections close; it opens new ones when used again

    async def database_made_anew(self, url: str) -> None:
        """A module's own database, set up again when its tests resume after another module's:
        the connections kept to the one of that name before went with it."""
        for engine in self.by_url.get(url, ()):
            await engine.dispose()

    async def close(self) -> None:
        for engines in self.by_url.values():
            for engine in engines:
                await engine.dispose()


_engines = KeptEngines()
# Built apps, kept for the worker's whole session: building one (its route objects, their
# request and response models, the settings) costs more than most tests that use it. Keyed by
# the environment the app was built from, so a test that starts a component with other settings
# or on other databases gets an app of its own. Everything a run changes (sessions, consumer,
# the gateway's limits and caches) is made anew by the lifespan, per test; the engine (see
# KeptEngines) stays with the app, and its statement cache with it.
_built: dict[tuple, tuple[FastAPI, ServiceSpec, AsyncEngine]] = {}


def built(name: str) -> tuple[FastAPI, ServiceSpec, AsyncEngine]:
    # (PYTEST_CURRENT_TEST changes with every test and configures nothing.)
    key = (name, frozenset(item for item in os.environ.items() if item[0] != "PYTEST_CURRENT_TEST"))
    if key not in _built:
        spec = spec_of(name)
        engine = _engines.new(spec.settings.database_url, spec.settings)
        _built[key] = (build_app(spec, background=False, engine=engine), spec, engine)
    return _built[key]


@pytest.fixture(scope="session", autouse=True)
async def kept_connections_closed_at_the_end():
    yield
    await _engines.close()


@pytest.fixture
async def service(service_databases) -> AsyncIterator:
    """`await service("profile")`: that component in process, its lifespan running."""
    async with AsyncExitStack() as stack:

        async def start(name: str, **settings_env: str) -> InProcessService:
            await service_databases.url(name)
            previous = {k: os.environ.get(k) for k in settings_env}
            os.environ.update(settings_env)
            try:
                app, spec, engine = built(name)
            finally:
                for key, value in previous.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
            await _engines.used(engine)
            await stack.enter_async_context(app.router.lifespan_context(app))
            return InProcessService(name, app, spec)

        yield start
