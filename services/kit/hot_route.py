"""A route class for the few hottest routes: the customer read and the consent decision (asked
before every partner share).

FastAPI's general request handling (solving the dependency graph, reading a body as JSON and then
validating it, validating the returned value against the response model a second time) was a
third of the customer read's CPU and over half of the decision's, most of it for work these
routes do not need. A `HotRoute` does what its endpoint needs in straight code: it verifies the
caller (every service route's guard, see services/kit/app.py), validates the path parameters
and the JSON body (pydantic-core parses and validates a body in one pass), and calls the
endpoint. Errors are those of any route: 401 for the caller, 422 problem+json naming the
fields. It is documented in the OpenAPI document like any other route.

The endpoint declares its parameters as on any route, of these kinds only: path parameters, at
most one body model, the caller (`ActorDep`) and the `Request`; it returns the `Response` it
built (nothing validates it a second time). Anything else is refused when the route is declared.
"""

import inspect
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, get_args, get_origin

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.kit.identity import Actor, caller

# A validator per endpoint parameter: takes the request and the caller, gives the argument.
Argument = Callable[[Request, Actor, bytes], Any]


class HotRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        arguments, reads_body = _arguments(endpoint, set(self.param_convertors))
        # Its own handling runs no dependencies: one declared on the route or its router would be
        # skipped silently, so it is refused (the caller's guard is the one it runs itself).
        skipped = [d.call for d in self.dependant.dependencies if d.call is not caller]
        if skipped:
            raise TypeError(f"{endpoint.__name__}: a HotRoute runs no dependencies; declared: {skipped}")

        async def handle(request: Request) -> Response:
            actor = await caller(request)
            body = await request.body() if reads_body else b""
            values: dict[str, Any] = {}
            errors: list[dict] = []
            for name, argument in arguments.items():
                try:
                    values[name] = argument(request, actor, body)
                except _Invalid as invalid:
                    errors += invalid.errors
            if errors:
                raise RequestValidationError(errors)
            return await endpoint(**values)

        return handle


class _Invalid(Exception):
    def __init__(self, errors: list[dict]):
        self.errors = errors


def _validated(adapter: TypeAdapter, where: tuple, value: Any, *, json: bool = False) -> Any:
    try:
        return adapter.validate_json(value) if json else adapter.validate_python(value)
    except ValidationError as invalid:
        # Located as FastAPI locates them ("body" or "path", then the field), without the input.
        errors = invalid.errors(include_url=False, include_context=False, include_input=False)
        raise _Invalid([{**e, "loc": (*where, *e["loc"])} for e in errors]) from None


def _arguments(endpoint: Callable, path_names: set[str]) -> tuple[dict[str, Argument], bool]:
    """How to get each of the endpoint's arguments from a request, and whether it reads the body;
    a TypeError at start-up for an endpoint a HotRoute cannot call."""
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: a HotRoute endpoint is async")
    arguments: dict[str, Argument] = {}
    reads_body = False
    for name, parameter in inspect.signature(endpoint, eval_str=True).parameters.items():
        annotation = parameter.annotation
        plain = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
        if plain is Request:
            arguments[name] = lambda request, _actor, _body: request
        elif plain is Actor:
            arguments[name] = lambda _request, actor, _body: actor
        elif name in path_names:
            arguments[name] = _path_parameter(name, TypeAdapter(annotation))
        elif not reads_body and inspect.isclass(plain) and issubclass(plain, BaseModel):
            reads_body = True
            arguments[name] = _body(TypeAdapter(plain))
        else:
            raise TypeError(
                f"{endpoint.__name__}: a HotRoute endpoint takes path parameters, one body model, "
                f"the caller and the Request only; not {name!r}"
            )
    return arguments, reads_body


def _path_parameter(name: str, adapter: TypeAdapter) -> Argument:
    def argument(request: Request, _actor: Actor, _body: bytes) -> Any:
        return _validated(adapter, ("path", name), request.path_params[name])

    return argument


def _body(adapter: TypeAdapter) -> Argument:
    def argument(_request: Request, _actor: Actor, body: bytes) -> Any:
        return _validated(adapter, ("body",), body, json=True)

    return argument
