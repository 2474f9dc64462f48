"""The trace an event or request belongs to, carried across awaits, the outbox and Kafka.

Two things travel: the request id (`current_trace_id`, the envelope's `trace_id`, for people
reading logs and audit rows) and the W3C trace context (OpenTelemetry), which the outbox stores
in the envelope (`traceparent`) so the relay, running later in another task, publishes each event
as a child of the change that caused it, with a `traceparent` Kafka header; consumers continue
the trace from that header, and the events their handlers emit carry it on.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

# The HTTP request id that caused the current work, or the trace of the event being consumed when
# a consumer emits a follow-up event. Set by the HTTP middleware and by consumers; read by the outbox.
current_trace_id: ContextVar[str | None] = ContextVar("current_trace_id", default=None)

tracer = trace.get_tracer("bank-crm.events")
TRACEPARENT = "traceparent"


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, or None outside a recorded trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def headers_of(traceparent: str | None) -> list[tuple[str, bytes]]:
    return [(TRACEPARENT, traceparent.encode())] if traceparent else []


@contextmanager
def span(name: str, kind: SpanKind, *, parent: str | None, attributes: dict) -> Iterator[trace.Span]:
    """A span continuing the trace `parent` (a traceparent), or a new trace when there is none."""
    context = propagate.extract({TRACEPARENT: parent}) if parent else None
    with tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes) as current:
        yield current


def traceparent_of(headers: list[tuple[str, bytes]] | None) -> str | None:
    for key, value in headers or []:
        if key == TRACEPARENT:
            return value.decode("latin-1")
    return None


@lru_cache(maxsize=256)
def _parent(traceparent: str) -> Context:
    """The context a traceparent continues (a relay batch often holds many events of one change)."""
    return propagate.extract({TRACEPARENT: traceparent})


def publish_headers(traceparent: str | None, topic: str, message_id: str) -> list[tuple[str, bytes]]:
    """Records the producer span of one message (a child of `traceparent`, the change that staged
    it) and returns the Kafka header that continues the trace from that span. Per message on the
    relay's hot path: the span is started and ended without becoming the current one, and its
    traceparent is written directly (the W3C form `propagate.inject` writes)."""
    published = tracer.start_span(
        f"{topic} publish",
        context=_parent(traceparent) if traceparent else None,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.operation.type": "publish",
            "messaging.message.id": message_id,
        },
    )
    published.end()
    context = published.get_span_context()
    if not context.is_valid:
        return []
    return [(TRACEPARENT, f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}".encode())]


def consuming(record, group: str):
    """The consumer span of one Kafka record, continuing the trace of its `traceparent` header."""
    return span(
        f"{record.topic} process",
        SpanKind.CONSUMER,
        parent=traceparent_of(record.headers),
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": record.topic,
            "messaging.operation.type": "process",
            "messaging.consumer.group.name": group,
            "messaging.kafka.message.offset": record.offset,
        },
    )
