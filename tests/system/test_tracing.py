"""One customer request is one trace: gateway -> profile (HTTP, SQL, outbox) -> broker -> churn
(consume, SQL). Every process writes its finished spans as JSON lines (CRM_TRACE_DIR); the test
reads them all and follows the parent links from churn's SQL back to the gateway's server span."""

import json
from pathlib import Path

import pytest

from tests.support import eventually, new_customer, system_of_its_own

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tracing")
    spans = workdir / "spans"
    spans.mkdir()
    with system_of_its_own(
        workdir, "tracing", ["gateway", "profile", "churn"], CRM_TRACE_DIR=str(spans), LOG_LEVEL="INFO"
    ) as (running, _):
        yield running, spans


def read_spans(folder: Path) -> list[dict]:
    found = []
    for path in folder.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                found.append(json.loads(line))
    return found


def service(span: dict) -> str:
    return span["resource"]["attributes"]["service.name"]


async def test_one_trace_spans_gateway_profile_outbox_broker_and_churn(traced, client):
    system, folder = traced
    created = await client.post(
        f"{system.url('gateway')}/api/v1/customers",
        json=new_customer(),
        headers=system.headers("relationship_manager", "rm-trace"),
    )
    assert created.status_code == 201, created.text

    # The entry: the gateway's server span for this request (its trace is the one to follow).
    def entry():
        servers = [
            s
            for s in read_spans(folder)
            if service(s) == "gateway"
            and s["kind"] == "SpanKind.SERVER"
            and s["attributes"].get("http.route") == "/api/v1/customers"
            and s["attributes"].get("http.request.method", s["attributes"].get("http.method")) == "POST"
        ]
        assert len(servers) == 1, servers
        return servers[0]

    root = await eventually(entry)
    trace_id = root["context"]["trace_id"]

    def hops():
        spans = [s for s in read_spans(folder) if s["context"]["trace_id"] == trace_id]
        consumed = [s for s in spans if service(s) == "churn" and s["kind"] == "SpanKind.CONSUMER"]
        assert consumed, "churn has not consumed the event yet"
        churn_sql = [
            s
            for s in spans
            if service(s) == "churn"
            and s["kind"] == "SpanKind.CLIENT"
            and s["parent_id"] == consumed[0]["context"]["span_id"]
        ]
        assert churn_sql, "churn's handler wrote nothing inside the consumer span"
        return spans, consumed[0]

    spans, consumed = await eventually(hops, timeout=60)
    by_id = {s["context"]["span_id"]: s for s in spans}

    def parent(span: dict) -> dict:
        assert span["parent_id"] in by_id, f"{span['name']} ({service(span)}) has no parent in the trace"
        return by_id[span["parent_id"]]

    # churn consumer <- profile relay's producer span (through the Kafka traceparent header) ...
    produced = parent(consumed)
    assert service(produced) == "profile" and produced["kind"] == "SpanKind.PRODUCER"
    assert produced["attributes"]["messaging.destination.name"] == "crm.customer"
    assert consumed["attributes"]["messaging.consumer.group.name"] == "churn"
    # ... <- the profile server span that staged the event in its outbox (stored in the envelope) ...
    staged_in = parent(produced)
    assert service(staged_in) == "profile" and staged_in["kind"] == "SpanKind.SERVER"
    assert staged_in["attributes"]["http.route"] == "/api/v1/customers"
    assert any(
        s["kind"] == "SpanKind.CLIENT"
        and service(s) == "profile"
        and "outbox" in s["name"].lower() + json.dumps(s["attributes"]).lower()
        and s["parent_id"] == staged_in["context"]["span_id"]
        for s in spans
    ), "the outbox insert is a SQL span of the request"
    # ... <- the gateway's upstream call <- the gateway's server span.
    upstream = parent(staged_in)
    assert service(upstream) == "gateway" and upstream["kind"] == "SpanKind.CLIENT"
    assert parent(upstream)["context"]["span_id"] == root["context"]["span_id"]

    # Every log line written while serving carries the trace id.
    def logged():
        lines = [
            json.loads(line)
            for c in ("gateway", "profile")
            for line in (system.workdir / f"{c}.log").read_text().splitlines()
            if line.startswith("{")
        ]
        requests = [
            line for line in lines if line.get("event") == "request" and line.get("route") == "/api/v1/customers"
        ]
        # Span files write ids as 0x-prefixed hex, log lines as plain hex.
        assert requests and all(line.get("trace_id") == trace_id.removeprefix("0x") for line in requests), requests

    await eventually(logged)
