"""The API gateway: the only door for the bank's web and mobile front ends."""

import asyncio
import base64
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html

from gateway.audit import Base, access_audit
from gateway.auth import TokenVerifier
from gateway.consent import ConsentChecker
from gateway.openapi import merged_openapi
from gateway.policy import Policy, Route, load_policy
from gateway.proxy import Gateway
from gateway.settings import GatewaySettings
from gateway.upstream import open_upstream
from services.kit.app import ServiceSpec, build_app


def spec(settings: GatewaySettings | None = None, policy: Policy | None = None) -> ServiceSpec:
    settings = settings or GatewaySettings()
    policy = policy or load_policy(settings.policy_file)

    @asynccontextmanager
    async def resources(app: FastAPI):
        upstream = open_upstream(settings.upstream_transport, settings.upstream_pool_size, settings.upstream_timeout_seconds)
        consent = ConsentChecker(
            upstream=upstream,
            consent_url=settings.upstream_url("consent"),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            pseudonym_key=base64.b64decode(settings.pseudonym_key),
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
        routers=[],
        resources=resources,
        audit=access_audit,
        openapi_url=None,  # the merged document is served instead (create_app)
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


def create_app() -> FastAPI:
    settings = GatewaySettings()
    policy = load_policy(settings.policy_file)
    app = build_app(spec(settings, policy))
    for route in policy.routes:
        app.add_api_route(route.path, _proxy_endpoint(route), methods=[route.method], include_in_schema=False)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> dict:
        gateway: Gateway = request.app.state.gateway
        return await merged_openapi(gateway.settings, gateway.policy, gateway.upstream)

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Bank CRM API")

    return app
