"""Where no spans are recorded (no exporter configured, as in this tier), a request still carries
its caller's W3C trace context on: the events it writes continue the caller's trace, and so do
the relay's Kafka headers made from them (services.kit.observability.TraceContextMiddleware)."""

from tests.support import new_customer

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


async def test_an_event_a_request_writes_continues_the_callers_trace(service):
    profile = await service("profile")
    async with profile.client("admin", "admin-trace") as http:
        created = await http.post(
            "/api/v1/customers", json=new_customer(), headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
        )
    assert created.status_code == 201, created.text
    [event] = await profile.published("customer.created", customer_id=created.json()["id"])
    assert event.traceparent == f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
