"""The policy's routes, answered in front of the framework's own per-request layers.

Every policy route is a plain proxy: its endpoint takes the request and returns the response
(gateway/app.py). Below the gateway's middleware, Starlette and FastAPI would still pass each
such request through their exception middleware, FastAPI's exit stack, the router and the
route's request and response wrappers, none of which does anything for it. Under load they were
about a seventh of the gateway's CPU per proxied read (README: "The policy's routes answered in
front of the framework's layers").

`PolicyRoutes` sits inside every middleware the app declares (security headers, request id, log
line and metrics, trace context, the 500 handler) and outside the framework's layers. It
matches the request against the policy's routes as the router would (first full match in the
policy's order) and calls the endpoint itself; an exception becomes the answer of the handler
the app registered for it, as the framework's exception middleware would make it. Anything else
(another path, a method the path does not have: 405 with Allow) goes on to the app unchanged.
"""

from collections.abc import Sequence

from starlette.requests import Request
from starlette.routing import Match
from starlette.routing import Route as PlainRoute
from starlette.types import ASGIApp, Receive, Scope, Send

# Requests are sorted by their first path segments ("/api/v1/customers"), so a request is matched
# only against the routes that can match it.
PREFIX_SEGMENTS = 3


class PolicyRoutes:
    def __init__(self, app: ASGIApp, routes: Sequence[PlainRoute]):
        self.app = app
        # Routes whose prefix holds a parameter could match any request: tried with every bucket,
        # in their place in the policy's order.
        anywhere = [(i, r) for i, r in enumerate(routes) if "{" in _prefix(r.path)]
        buckets: dict[str, list[tuple[int, PlainRoute]]] = {}
        for i, route in enumerate(routes):
            if "{" not in (prefix := _prefix(route.path)):
                buckets.setdefault(prefix, []).append((i, route))
        self.buckets = {p: [r for _, r in sorted(b + anywhere, key=lambda e: e[0])] for p, b in buckets.items()}
        self.anywhere = [r for _, r in anywhere]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (route := self.route_of(scope)) is not None:
            await self._answer(route, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def route_of(self, scope: Scope) -> PlainRoute | None:
        """The policy route that answers the request, the first to match it fully, as the router
        chooses (its path parameters and itself put in `scope`); None when the app answers."""
        for route in self.buckets.get(_prefix(scope["path"]), self.anywhere):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route  # what the request's log line and metrics name
                scope.update(child_scope)
                return route
        return None

    @staticmethod
    async def _answer(route: PlainRoute, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as error:
            handler = _handler_of(scope["app"].exception_handlers, error)
            if handler is None:
                raise  # to the app's 500 handler, outermost (ServerErrorMiddleware)
            response = await handler(request, error)
        await response(scope, receive, send)


def _prefix(path: str) -> str:
    return "/".join(path.split("/", PREFIX_SEGMENTS + 1)[: PREFIX_SEGMENTS + 1])


def _handler_of(handlers: dict, error: Exception):
    """The handler registered for the error's class or its nearest base, as Starlette's exception
    middleware finds it; the one for `Exception` is the 500 handler's, which answers outermost."""
    for kind in type(error).__mro__:
        if kind is Exception:
            return None
        if kind in handlers:
            return handlers[kind]
    return None
