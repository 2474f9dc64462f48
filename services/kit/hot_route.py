"""A route class for the few hottest routes (consent decisions, asked before every partner share).

FastAPI's general request handling (solving the dependency graph, reading the body as JSON and
then validating it, validating the returned value against the response model) was more than half
of such a route's CPU, most of it for work these routes do not need. A `HotRoute` does what its
endpoint needs in straight code: it verifies the caller (every service route's guard, see
services/kit/app.py), validates the JSON body against the endpoint's body model in one pass
(pydantic-core parses and validates together), and calls the endpoint with the body and the
request. Errors are the same as on any route: 401 for the caller, 422 problem+json for the body.
It is documented in the OpenAPI document like any other route.

The endpoint takes exactly one body parameter (a pydantic model) and the `Request`, and returns
a `Response` it built itself (nothing validates it a second time).
"""

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from services.kit.identity import caller


class HotRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        body_name, body_model, request_name = _shape(endpoint)

        async def handle(request: Request) -> Response:
            await caller(request)
            try:
                body = body_model.model_validate_json(await request.body())
            except ValidationError as invalid:
                # Located as FastAPI locates body errors, so the problem lists the same fields.
                errors = invalid.errors(include_url=False, include_context=False, include_input=False)
                raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
            return await endpoint(**{body_name: body, request_name: request})

        return handle


def _shape(endpoint: Callable) -> tuple[str, type[BaseModel], str]:
    """The names of the endpoint's body and request parameters, and its body model; a TypeError
    at start-up for an endpoint a HotRoute cannot call."""
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: a HotRoute endpoint is async")
    body: tuple[str, type[BaseModel]] | None = None
    request_name = None
    for name, parameter in inspect.signature(endpoint, eval_str=True).parameters.items():
        annotation = parameter.annotation
        if annotation is Request:
            request_name = name
        elif body is None and inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            body = (name, annotation)
        else:
            raise TypeError(f"{endpoint.__name__}: a HotRoute endpoint takes one body model and the Request only")
    if body is None or request_name is None:
        raise TypeError(f"{endpoint.__name__}: a HotRoute endpoint takes one body model and the Request")
    return body[0], body[1], request_name
