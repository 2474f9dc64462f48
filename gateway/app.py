"""The API gateway: the only door for the bank's web and mobile front ends."""

import asyncio
import base64
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html

from events.contracts import topics

from gateway.audit import Base, access_audit
from gateway.auth import TokenVerifier
from gateway.consent import ConsentChecker
from gateway.openapi import merged_openapi
from gateway.policy import Policy, Route, load_policy
from gateway.proxy import Gateway
from gateway.settings import GatewaySettings
from gateway.upstream import open_upstream
from services.kit.app import ServiceSpec


def spec() -> ServiceSpec:
    settings = GatewaySettings()
    policy = load_policy(settings.policy_file)
    # Consent events evict cached permits (no consumer group: every replica reads them all).
    consumed_topics = [topics.CONSENT]

    @asynccontextmanager
    async def resources(app: FastAPI):
        upstream = open_upstream(settings.upstream_transport, settings.upstream_pool_size, settings.upstream_timeout_seconds)
        consent = ConsentChecker(
            upstream=upstream,
            consent_url=settings.upstream_url("consent"),
            bootstrap_servers=settings.kafka(),
            pseudonym_key=base64.b64decode(settings.pseudonym_key),
            topic_names=consumed_topics,
        )
        gateway = Gateway(settings, policy, TokenVerifier(settings), upstream, app.state.engine, consent)
        app.state.gateway = gateway
        background = [asyncio.create_task(_keep_declarations_fresh(gateway)), asyncio.create_task(consent.listen())]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await upstream.close()

    return ServiceSpec(
        name="gateway",
        title="API gateway",
        description="Authenticates, authorises, masks and audits; routes to the services.",
        settings=settings,
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[_router(policy)],
        resources=resources,
        consumed_topics=consumed_topics,
        audit=access_audit,
        openapi_url=None,  # the merged document is served instead (_router)
    )


async def _keep_declarations_fresh(gateway: Gateway) -> None:
    """Follow the profile service's data catalogue: soon after start, then every few minutes."""
    while True:
        fresh = await gateway.refresh_declarations()
        await asyncio.sleep(300 if fresh else 2)


def _proxy_endpoint(route: Route):
    async def endpoint(request: Request):
        return await request.app.state.gateway.handle(request, route)

    endpoint.__name__ = f"{route.method.lower()}_{route.path}"
    return endpoint


def _router(policy: Policy) -> APIRouter:
    """The policy's routes, each proxied, plus the merged OpenAPI document and its viewer."""
    router = APIRouter(include_in_schema=False)
    for route in policy.routes:
        router.add_api_route(route.path, _proxy_endpoint(route), methods=[route.method])

    @router.get("/openapi.json")
    async def openapi(request: Request) -> dict:
        gateway: Gateway = request.app.state.gateway
        return await merged_openapi(gateway.settings, gateway.policy, gateway.upstream)

    @router.get("/docs")
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Bank CRM API")

    return router
