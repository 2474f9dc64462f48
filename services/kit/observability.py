"""JSON logs with the request id and trace id, Prometheus metrics, the request-id middleware and
OpenTelemetry tracing (HTTP server and client, SQL; Kafka in events/).

Logs carry ids, routes and outcomes; never request bodies, query strings or customer fields.
Spans carry route templates, SQL statements with bound parameters left out, topics and event
ids; never customer data.
"""

import json
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import structlog
from cachetools import LRUCache
from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import metrics as otel_metrics
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from prometheus_client import Counter, Gauge, Histogram, start_http_server
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from events.tracing import current_trace_id

REQUEST_ID_HEADER = "x-request-id"
# The only request ids taken from a caller: a UUID (with or without dashes). Anything else is
# replaced, so no caller can plant text in logs, audit trails or event trace ids.
_REQUEST_ID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def accepted_request_id(sent: bytes | None) -> str:
    """The caller's request id if it is a UUID (lower-cased), else a fresh one."""
    if sent is not None and len(sent) <= 36:
        candidate = sent.decode("latin-1").lower()
        if _REQUEST_ID.fullmatch(candidate):
            return candidate
    # 128 random bits in the form of a dashless UUID (uuid4().hex costs four times as much: it
    # builds a UUID object to set six bits nobody reads).
    return secrets.token_hex(16)


HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests served", ["component", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["component", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
# Cases (complaints, requests) that passed their service-level deadline; a component with such
# deadlines increments it once per case when the deadline passes (alerted in deploy/).
SLA_BREACHES = Counter(
    "crm_sla_breaches_total", "Cases that passed their service-level deadline", ["component", "kind"]
)
# The population stability index of the promoted churn model's current scores against its
# validation scores, measured in the background by churn (services/churn/model/drift.py).
CHURN_MODEL_DRIFT = Gauge(
    "crm_churn_model_drift_psi", "PSI of the promoted churn model's current scores against its validation", ["model"]
)

# Consent decisions as of now, by where the consents they read came from: the replica's decision
# index or the database (services/consent/service.py, DecisionReader); the index's hit rate.
CONSENT_DECISION_READS = Counter(
    "crm_consent_decision_reads_total", "Consent decisions as of now, by where their consents came from", ["source"]
)


def _add_trace_context(_logger, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Every log line written inside a span names its trace (and span): logs and traces join."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    # Access logs carry raw paths (which hold customer ids); our middleware logs the route template.
    logging.getLogger("uvicorn.access").disabled = True
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_trace_context,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            # orjson: a request's line in 9-15 us of CPU against 15-23 with the standard library's.
            structlog.processors.JSONRenderer(serializer=orjson.dumps, option=orjson.OPT_NON_STR_KEYS),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.BytesLoggerFactory(),
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
        # (method, route, status) -> its counter and histogram series: found once, not per request
        # (prometheus-client's labels() costs twice the increment and the observation together).
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((value for name, value in scope["headers"] if name == REQUEST_ID_HEADER.encode()), None)
        request_id = accepted_request_id(sent)
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
                series = self._series.get((method, route, status))
                if series is None:
                    series = self._series[(method, route, status)] = (
                        HTTP_REQUESTS.labels(self.component, method, route, str(status)),
                        HTTP_LATENCY.labels(self.component, method, route),
                    )
                series[0].inc()
                series[1].observe(elapsed)
                self.log.info("request", method=method, route=route, status=status, ms=round(elapsed * 1000, 2))
            structlog.contextvars.unbind_contextvars("request_id")
            current_trace_id.reset(token)


class JsonLinesSpanExporter(SpanExporter):
    """Writes each finished span as one JSON line to a file of this process (tests, drills)."""

    def __init__(self, path: Path):
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.path.open("a") as out:
            for span in spans:
                out.write(json.dumps(json.loads(span.to_json())) + "\n")
        return SpanExportResult.SUCCESS


_provider: TracerProvider | None = None
_exporting = False


def configure_tracing(component: str, *, otlp_endpoint: str, trace_dir: str) -> None:
    """Install the process's tracer provider once. Spans are exported over OTLP when
    `otlp_endpoint` is set and to `<trace_dir>/<component>-<pid>.jsonl` when `trace_dir` is set.
    With neither, no spans are made (install_observability, trace_engine): a caller's
    traceparent is still carried on through HTTP and Kafka (TraceContextMiddleware), and log
    lines still carry the request id."""
    global _provider, _exporting
    if _provider is not None:
        return
    exporting = _exporting = bool(otlp_endpoint or trace_dir)
    _provider = TracerProvider(
        resource=Resource.create({"service.name": component, "service.namespace": "bank-crm"}),
        sampler=ParentBased(ALWAYS_ON if exporting else ALWAYS_OFF),
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    if trace_dir:
        path = Path(trace_dir) / f"{component}-{os.getpid()}.jsonl"
        _provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    trace.set_tracer_provider(_provider)
    if exporting:
        # Outgoing aiohttp requests (the gateway's upstream calls) get client spans (and their
        # traceparent; without spans the gateway passes its caller's on itself: gateway/proxy.py).
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

        AioHttpClientInstrumentor().instrument()


def tracing_recorded() -> bool:
    """Whether this process records spans (an exporter is configured)."""
    return _exporting


class TraceContextMiddleware:
    """Where no spans are recorded, the one thing tracing still does per request: the caller's
    W3C trace context (traceparent, tracestate) becomes the current one, so what the request
    sends on (upstream calls, outbox events) stays in the caller's trace. The instrumentation's
    server span, unrecorded, cost about a sixth of a small request's CPU (matching the route to
    name it, collecting attributes, wrapping every ASGI message)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        carrier = {}
        if scope["type"] == "http":
            carrier = {
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in scope["headers"]
                if name in (b"traceparent", b"tracestate")
            }
        if not carrier:
            await self.app(scope, receive, send)
            return
        token = otel_context.attach(propagate.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def trace_engine(engine: AsyncEngine) -> None:
    """SQL spans for every statement of `engine` (statement text only, parameters left out),
    where spans are recorded."""
    if not _exporting:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    tracer = trace.get_tracer("bank-crm.sql")
    usage = otel_metrics.get_meter("bank-crm.sql").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine.sync_engine, usage)


# The instrumentation names each server span after its route template, found by matching the
# request against the app's routes listed flat; FastAPI builds each included route's context
# anew whenever they are listed, about a tenth of a request's CPU. Listed once per route list
# here (and again if routes were added since).
_flattened: LRUCache[int, tuple[Sequence[Any], int, list[Any]]] = LRUCache(maxsize=64)


def _listing_once(flatten: Callable[[Sequence[Any]], Iterator[Any]]) -> Callable[[Sequence[Any]], Iterator[Any]]:
    def flatten_once(routes: Sequence[Any]) -> Iterator[Any]:
        cached = _flattened.get(id(routes))
        if cached is None or cached[0] is not routes or cached[1] != len(routes):
            cached = _flattened[id(routes)] = (routes, len(routes), list(flatten(routes)))
        return iter(cached[2])

    return flatten_once


def fastapi_instrumentation() -> ModuleType:
    """The FastAPI instrumentation, imported only where spans are recorded (it and the other two
    instrumentations, imported at every start, had cost about a tenth of a process's start), its
    route lister replaced by one that lists once."""
    import opentelemetry.instrumentation.fastapi as otel_fastapi

    flatten = getattr(otel_fastapi, "_flatten_routes", None)  # looked up per request
    if flatten is not None and flatten.__name__ != "flatten_once":
        vars(otel_fastapi)["_flatten_routes"] = _listing_once(flatten)
    return otel_fastapi


def install_observability(app: FastAPI, component: str) -> None:
    app.add_middleware(RequestContextMiddleware, component=component)
    if not _exporting:
        app.add_middleware(TraceContextMiddleware)
        return
    # Server spans; the middleware above runs inside them, so its log line has the trace id. No
    # child span per ASGI message (response start, body): they only time the socket write, and
    # cost about as much as the server span itself on every request.
    fastapi_instrumentation().FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/healthz,/readyz,/metrics", exclude_spans=["receive", "send"]
    )


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:
    """Prometheus metrics on their own listener, never on the API port: the gateway's API port
    is public, and a service's is for the gateway only (`METRICS_PORT`, `crm serve`)."""
    start_http_server(port, addr=host)
