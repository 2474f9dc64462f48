"""JSON logs with the request id, Prometheus metrics and the request-id middleware.

Logs carry ids, routes and outcomes; never request bodies, query strings or customer fields.
"""

import logging
import sys
import time
import uuid

import structlog
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from events.tracing import current_trace_id

REQUEST_ID_HEADER = "x-request-id"

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests served", ["component", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["component", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
# Cases (complaints, requests) that passed their service-level deadline; a component with such
# deadlines increments it once per case when the deadline passes (alerted in deploy/).
SLA_BREACHES = Counter("crm_sla_breaches_total", "Cases that passed their service-level deadline", ["component", "kind"])


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    # Access logs carry raw paths (which hold customer ids); our middleware logs the route template.
    logging.getLogger("uvicorn.access").disabled = True
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestContextMiddleware:
    """Assigns or passes through the request id, logs one line per request, records metrics."""

    def __init__(self, app: ASGIApp, component: str):
        self.app = app
        self.component = component
        self.log = structlog.get_logger("http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER.encode():
                request_id = value.decode("latin-1")[:128]
                break
        request_id = request_id or uuid.uuid4().hex
        # Events written while serving this request carry its id as their trace id.
        token = current_trace_id.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode("latin-1")))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            if route not in ("/healthz", "/readyz", "/metrics"):
                HTTP_REQUESTS.labels(self.component, method, route, str(status)).inc()
                HTTP_LATENCY.labels(self.component, method, route).observe(elapsed)
                self.log.info("request", method=method, route=route, status=status, ms=round(elapsed * 1000, 2))
            structlog.contextvars.unbind_contextvars("request_id")
            current_trace_id.reset(token)


def install_observability(app: FastAPI, component: str) -> None:
    app.add_middleware(RequestContextMiddleware, component=component)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
