"""PolicyRoutes (gateway/routing.py): the policy's routes answered in front of the framework's
router, with the router's choice of route and the app's exception handlers."""

import re

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import Match
from starlette.routing import Route as PlainRoute

from gateway.app import proxied_routes
from gateway.policy import load_policy
from gateway.routing import PolicyRoutes
from gateway.settings import GatewaySettings
from services.components import spec_of
from services.kit.app import build_app
from services.kit.problems import NotFound, install_problem_handlers


def _scope(method: str, path: str) -> dict:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def _path_of(route: PlainRoute | None) -> str | None:
    return None if route is None else route.path


def _a_path_of(template: str) -> str:
    return re.sub(r"{[^}]+}", "x-1", template)


def test_each_policy_route_is_the_one_the_app_router_would_choose():
    """No other route of the gateway's app comes before a policy route for the same request, so
    answering policy routes first changes no request's route."""
    app = build_app(spec_of("gateway"), background=False)
    policy = load_policy(GatewaySettings().access_policy_file)
    front = PolicyRoutes(app, proxied_routes(policy))
    for rule in policy.routes:
        scope = _scope(rule.method, _a_path_of(rule.path))
        chosen = next(r for r in app.routes if r.matches(dict(scope))[0] is Match.FULL)
        assert getattr(chosen, "path", None) == rule.path, (rule.method, rule.path)
        assert _path_of(front.route_of(dict(scope))) == rule.path


def _routes(*paths: str) -> list[PlainRoute]:
    async def endpoint(request: Request):
        return JSONResponse({"route": request.scope["route"].path, "params": request.path_params})

    return [PlainRoute(path, endpoint, methods=["GET"]) for path in paths]


def test_the_first_full_match_in_the_policy_order_wins_across_prefixes():
    # "/api/{version}/..." may match a request of any prefix: it keeps its place in the order.
    front = PolicyRoutes(
        FastAPI(), _routes("/api/v1/customers/search", "/api/{version}/customers/{id}", "/api/v1/customers/{id}")
    )
    assert _path_of(front.route_of(_scope("GET", "/api/v1/customers/search"))) == "/api/v1/customers/search"
    assert _path_of(front.route_of(_scope("GET", "/api/v1/customers/c-1"))) == "/api/{version}/customers/{id}"
    assert _path_of(front.route_of(_scope("GET", "/api/v2/customers/c-1"))) == "/api/{version}/customers/{id}"
    assert front.route_of(_scope("GET", "/api/v1/products")) is None
    assert front.route_of(_scope("POST", "/api/v1/customers/search")) is None  # the app answers 405


def _app_behind(routes: list[PlainRoute]) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/elsewhere")
    async def elsewhere() -> dict:
        return {"served_by": "the app"}

    app.router.routes.extend(routes)
    app.add_middleware(PolicyRoutes, routes=routes)
    return app


async def _get(app: FastAPI, path: str, method: str = "GET") -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return await client.request(method, path)


async def test_a_policy_route_is_answered_with_its_path_parameters_and_route():
    answer = await _get(_app_behind(_routes("/api/v1/customers/{customer_id}")), "/api/v1/customers/c-1")
    assert answer.status_code == 200
    assert answer.json() == {"route": "/api/v1/customers/{customer_id}", "params": {"customer_id": "c-1"}}


async def test_other_paths_and_methods_go_on_to_the_app():
    app = _app_behind(_routes("/api/v1/customers/{customer_id}"))
    assert (await _get(app, "/elsewhere")).json() == {"served_by": "the app"}
    refused = await _get(app, "/api/v1/customers/c-1", method="DELETE")
    assert refused.status_code == 405
    assert "GET" in refused.headers["allow"].split(", ")


@pytest.mark.parametrize(
    ("error", "status", "media_type"),
    [
        (NotFound("No customer has this id."), 404, "application/problem+json"),
        (KeyError("a bug"), 500, "application/problem+json"),
    ],
)
async def test_an_error_is_answered_by_the_handler_the_app_registered_for_it(error, status, media_type):
    async def failing(request: Request):
        raise error

    route = PlainRoute("/api/v1/customers/{customer_id}", failing, methods=["GET"])
    answer = await _get(_app_behind([route]), "/api/v1/customers/c-1")
    assert answer.status_code == status
    assert answer.headers["content-type"] == media_type
    assert "a bug" not in answer.text
