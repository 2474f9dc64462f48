"""Server spans are named after the route template the request matched; the app's routes are
listed flat once per route list (again when routes were added), not on every request."""

from fastapi import APIRouter, FastAPI

from services.kit import observability


def test_routes_are_listed_once_until_one_is_added():
    listed = []

    def flatten(routes):
        listed.append(len(routes))
        return iter(list(routes))

    once = observability._listing_once(flatten)
    routes = ["a", "b"]
    assert list(once(routes)) == ["a", "b"]
    assert list(once(routes)) == ["a", "b"]
    routes.append("c")
    assert list(once(routes)) == ["a", "b", "c"]
    assert list(once(["x"])) == ["x"]
    assert listed == [2, 3, 1]


def test_the_span_is_still_named_after_the_route_template():
    otel_fastapi = observability.fastapi_instrumentation()
    assert otel_fastapi._flatten_routes.__name__ == "flatten_once"
    lister = otel_fastapi._flatten_routes
    assert observability.fastapi_instrumentation()._flatten_routes is lister  # wrapped once only
    app = FastAPI()
    router = APIRouter(prefix="/api/v1/customers")

    @router.get("/{customer_id}")
    async def read(customer_id: str) -> dict:
        return {}

    app.include_router(router)
    scope = {"type": "http", "method": "GET", "path": "/api/v1/customers/c-1", "app": app, "root_path": ""}
    assert otel_fastapi._get_default_span_details(scope)[0] == "GET /api/v1/customers/{customer_id}"
    assert otel_fastapi._get_default_span_details(scope)[0] == "GET /api/v1/customers/{customer_id}"
    scope["path"] = "/nowhere"
    assert otel_fastapi._get_default_span_details(scope)[0] == "GET"
