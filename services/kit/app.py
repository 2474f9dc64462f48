"""Builds a component's FastAPI app from its spec: database, messaging, probes, errors, metrics."""

import asyncio
import dataclasses
import gc
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from events.consumer import EventConsumer, Handler
from events.contracts import topics
from events.outbox import Outbox
from events.store import purge_messaging
from gateway.policy import load_policy
from services.kit import crypto, db, migrations
from services.kit.access import RouteRoles
from services.kit.audit import AuditTrail, CheckpointStore
from services.kit.catalogue import Catalogue
from services.kit.clock import now
from services.kit.hot_route import HotRoute
from services.kit.identity import caller
from services.kit.jobs import PeriodicJob, run_forever
from services.kit.messaging import Messaging
from services.kit.observability import configure_logging, configure_tracing, install_observability, trace_engine
from services.kit.problems import install_problem_handlers, problem_response
from services.kit.settings import ComponentSettings, EncryptionSettings, resolve_service_identity_key


@dataclass(frozen=True)
class KafkaAccess:
    writes: tuple[str, ...]
    reads: tuple[str, ...]
    group: str | None  # the consumer group, when the component commits offsets
    follows: tuple[str, ...] = ()  # of `reads`, those every replica reads whole (no group)


@dataclass
class ServiceSpec:
    """What makes a service itself; everything else is the same for every service."""

    name: str
    title: str
    description: str
    settings: ComponentSettings
    metadata: sa.MetaData
    migrations: Path
    routers: list[APIRouter]
    outbox: Outbox | None = None
    inbox: sa.Table | None = None
    # event type -> handler; the consumer reads the topics those types are published on.
    handlers: dict[str, Handler] = field(default_factory=dict)
    consumed_topics: list[str] = field(default_factory=list)
    # Topics every replica reads whole, without a group, to keep a cache of its own current
    # (events/follower.py: the gateway's permit cache, consent's decision index).
    followed_topics: list[str] = field(default_factory=list)
    # Hash-chained audit of access to customer data, sealed by a background task.
    audit: AuditTrail | None = None
    # Scheduled work (expiry, retention, ...), run in the background of every replica.
    jobs: list[PeriodicJob] = field(default_factory=list)
    # Extra resources to hold for the app's lifetime (e.g. the gateway's upstream connection pool).
    resources: Callable[[FastAPI], AbstractAsyncContextManager] | None = None
    # None when the component serves its own document (the gateway merges the services').
    openapi_url: str | None = "/openapi.json"
    # Mounts static files on the app (the gateway's dashboard assets).
    static_mounts: Callable[[FastAPI], None] | None = None
    # Every field the component stores (services/kit/catalogue.py), served at /api/v1/data-declarations.
    catalogue: Catalogue | None = None
    serve_catalogue: bool = True
    # Services answer only callers the gateway vouches for (services/kit/identity.py); the
    # gateway authenticates its own callers by bearer token instead.
    authenticate_callers: bool = True
    # ASGI middleware (class, options) around everything else, e.g. the gateway's edge guard.
    middleware: list[tuple[Callable[..., ASGIApp], dict[str, Any]]] = field(default_factory=list)
    # ASGI middleware inside all the others (the request's context, log line and metrics among
    # them) and in front of the framework's routing, e.g. the gateway's policy routes.
    inner_middleware: list[tuple[Callable[..., ASGIApp], dict[str, Any]]] = field(default_factory=list)

    def kafka_access(self) -> "KafkaAccess":
        """What the component does on the broker, from its outbox and its consumers: the Kafka ACLs
        of its KafkaUser (deploy/) and its AsyncAPI operations are derived from this."""
        writes = topics.produced_by(self.name) if self.outbox is not None else []
        if self.audit is not None:
            writes = [*writes, topics.AUDIT_CHECKPOINTS]  # the signed heads of its audit chain
        if self.handlers:
            writes = [*writes, topics.DEAD_LETTER]  # what it cannot handle goes there
        reads = list(dict.fromkeys([*self.consumed_topics, *self.followed_topics]))
        if self.audit is not None:
            reads.append(topics.AUDIT_CHECKPOINTS)  # `crm verify-audit` reads its checkpoints back
        return KafkaAccess(
            writes=tuple(writes),
            reads=tuple(reads),
            group=self.name if self.handlers else None,
            follows=tuple(self.followed_topics),
        )

    def __post_init__(self):
        if self.handlers and self.inbox is None:
            raise ValueError(f"{self.name}: a component that handles events needs an inbox table")
        if self.outbox is not None or self.inbox is not None:
            self.jobs = [*self.jobs, purge_messaging_job(self)]
        if isinstance(self.settings, EncryptionSettings):
            # Encrypted columns read the process's key ring (one component per process).
            crypto.install(self.settings.keyring())
        if self.audit is not None:
            s = self.settings
            self.audit.configure(
                key=s.audit_chain_key,
                chain=s.audit_chain_id(),
                seal_delay=s.audit_seal_delay_seconds,
                poll_interval=s.audit_poll_interval_seconds,
                checkpoint_interval=s.audit_checkpoint_interval_seconds,
            )


def purge_messaging_job(spec: "ServiceSpec") -> PeriodicJob:
    """Published outbox rows and handled inbox rows go after `messaging_retention_days`."""

    async def run(sessions) -> int:
        older_than = now() - timedelta(days=spec.settings.messaging_retention_days)
        return await purge_messaging(
            sessions.kw["bind"],
            outbox=spec.outbox.table if spec.outbox else None,
            inbox=spec.inbox,
            older_than=older_than,
        )

    return PeriodicJob(name="purge-messaging", every_seconds=3600, run=run)


def build_app(spec: ServiceSpec, *, background: bool = True, engine: AsyncEngine | None = None) -> FastAPI:
    """`background=False` leaves out the relay, the consumer, jobs and the audit sealer: the app
    of one service in process (tests feed its handlers and read its outbox directly). `engine`:
    one to use instead of a new one per start, and its owner's to close: the lifespan leaves its
    pool open (tests start an app per test; a new engine per start compiled every statement
    anew, and closing the pool at each shutdown made every test open its connections again)."""
    shared_engine = engine
    settings = spec.settings
    configure_logging(settings.log_level)
    configure_tracing(spec.name, otlp_endpoint=settings.otlp_endpoint, trace_dir=settings.trace_dir)
    settings.service_identity_key = resolve_service_identity_key(settings.service_identity_key, settings.environment)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = shared_engine
        if engine is None:
            engine = db.create_engine(settings.database_url, settings)
            trace_engine(engine)
        sessions = db.session_factory(engine)
        consumer = None
        if spec.handlers and spec.inbox is not None:  # __post_init__: handlers come with an inbox
            consumer = EventConsumer(
                group_id=spec.name,
                handlers=spec.handlers,
                topic_names=spec.consumed_topics,
                inbox=spec.inbox,
                sessions=sessions,
            )
        messaging = Messaging(
            component=spec.name,
            kafka_connection=settings.kafka(),
            engine=engine,
            outbox=spec.outbox,
            consumer=consumer,
            settings=settings,
            uses_broker=any(dataclasses.astuple(spec.kafka_access())),
        )
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = sessions
        app.state.outbox = spec.outbox
        app.state.messaging = messaging
        app.state.audit = spec.audit
        app.state.consumer = consumer
        # Whether this app runs its background work (what `resources` may start besides).
        app.state.background = background
        tasks: list[asyncio.Task] = []
        if background:
            messaging.start()
            tasks = [asyncio.create_task(run_forever(job, sessions)) for job in spec.jobs]
            if spec.audit:
                anchor = CheckpointStore(settings.kafka(), spec.name)
                tasks.append(asyncio.create_task(spec.audit.run_sealer(engine, anchor)))
                tasks.append(
                    asyncio.create_task(spec.audit.run_verifier(engine, spec.name, settings.audit_verify_interval))
                )
        try:
            async with AsyncExitStack() as stack:
                if spec.resources is not None:
                    await stack.enter_async_context(spec.resources(app))
                # What start-up built (modules, routes, models) lives as long as the served process:
                # kept out of the collector's full passes, which bulk work (imports, relay batches)
                # sets off and which would otherwise walk every one of those objects each time. Not
                # for an app in process (tests start hundreds): each full collection costs there.
                if background:
                    gc.collect()
                    gc.freeze()
                yield
        finally:
            if background:
                gc.unfreeze()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await messaging.stop()
            if shared_engine is None:
                await engine.dispose()

    # No public documents or viewers: a service's OpenAPI document is for its callers only.
    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # Requests are traced by the OpenTelemetry FastAPI instrumentation where spans are
        # recorded (install_observability: one server span per request, health routes left
        # out). FastAPI's own telemetry switches itself on once a tracer provider is set and
        # would add a second span, metrics and logs to every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_problem_handlers(app)
    for middleware, options in spec.inner_middleware:  # the first added is the innermost
        app.add_middleware(middleware, **options)
    install_observability(app, spec.name)
    if spec.authenticate_callers:  # the services (the gateway authenticates people instead)
        app.state.route_roles = RouteRoles.of(load_policy(settings.access_policy_file), spec.name)
    for middleware, options in spec.middleware:
        app.add_middleware(middleware, **options)

    @app.get("/healthz", tags=["operations"], summary="The process is up and its event loop answers (liveness)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    head = migrations.heads(spec.migrations)

    @app.get("/readyz", tags=["operations"], summary="Can serve: the database answers and is migrated to head")
    async def readyz(request: Request) -> JSONResponse:
        # The broker is deliberately not checked: writes go on through the outbox while Kafka is
        # away (its reachability, the outbox backlog and the consumer lag are metrics and alerts).
        checks = {"database": "ok", "migrations": "ok"}
        try:
            if await migrations.applied(app.state.engine) != head:
                checks["migrations"] = "not at head"
        except Exception:
            checks["database"] = "unreachable"
            checks["migrations"] = "unknown"
        if all(v == "ok" for v in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        return problem_response(
            request, status=503, title="Not ready", detail="The database is unreachable or not migrated.", checks=checks
        )

    guarded = [Depends(caller)] if spec.authenticate_callers else []
    if spec.openapi_url:

        @app.get(spec.openapi_url, include_in_schema=False, dependencies=guarded)
        async def openapi() -> dict:
            return app.openapi()

    for router in spec.routers:
        if guarded and router.route_class is not HotRoute:
            app.include_router(router, dependencies=guarded)
        else:
            # Its inclusion would add nothing (no guard, or a HotRoute, which verifies its caller
            # itself and refuses other dependencies), so the routes join the app's own list:
            # FastAPI matches an included router's routes through the inclusion on every request,
            # about 20 us a call (a tenth of a consent decision).
            app.router.routes.extend(router.routes)
    if spec.catalogue is not None and spec.serve_catalogue:
        app.include_router(spec.catalogue.router(), dependencies=guarded)
    if spec.static_mounts is not None:
        spec.static_mounts(app)
    if guarded:
        routers = [*spec.routers, app.router]
        served = {
            (method, route.path)
            for router in routers
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in route.methods or ()
        }
        app.state.route_roles.require_served(served, spec.name)
    return app
