"""The trace an event or request belongs to, carried across awaits in a context variable."""

from contextvars import ContextVar

# The HTTP request id that caused the current work, or the trace of the event being consumed when
# a consumer emits a follow-up event. Set by the HTTP middleware and by consumers; read by the outbox.
current_trace_id: ContextVar[str | None] = ContextVar("current_trace_id", default=None)
