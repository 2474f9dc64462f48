"""A Kafka outage is not an API outage: with the broker gone every component stays ready (its
readiness asks only whether it can serve: database reachable and migrated), writes through the
gateway succeed, and the outage shows where operators look for it: the broker-reachability and
outbox-backlog metrics. Runs the whole system on a broker and databases of its own."""

import re

import pytest

from tests.support import eventually, marketing_consent, new_customer, onboard_through_gateway, system_of_its_own

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def system_and_broker(tmp_path_factory):
    # Probed every second, so the outage shows in the metric within seconds, not a quarter
    # minute; a relay's batch fails after 2 s without the broker, not 10, so the backlog metric
    # is counted sooner.
    with system_of_its_own(
        tmp_path_factory.mktemp("outage"),
        "outage",
        KAFKA_PROBE_INTERVAL_SECONDS="1",
        KAFKA_REQUEST_TIMEOUT_MS="2000",
    ) as (running, broker):
        yield running, broker


def metric(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


async def test_every_component_stays_ready_and_writes_succeed_while_the_broker_is_down(system_and_broker, client):
    system, broker = system_and_broker
    gateway, manager = system.url("gateway"), system.headers("relationship_manager", "rm-outage")
    # Before the outage: a customer every service knows (services learn customers from events).
    known = await onboard_through_gateway(client, system, "rm-outage")
    broker.stop()

    # Each component that uses the broker notices it is gone (its probe metric drops to 0) ...
    async def broker_seen_down(component):
        text = (await client.get(system.metrics_url(component))).text
        assert metric(text, "crm_broker_reachable", component=component) == 0.0

    for component in system.components:
        await eventually(lambda: broker_seen_down(component), timeout=60)

    # ... and is still ready: readiness is about serving, not about Kafka.
    for component in system.components:
        response = await client.get(f"{system.url(component)}/readyz")
        assert response.status_code == 200, (component, response.text)
        assert response.json()["checks"] == {"database": "ok", "migrations": "ok"}

    # Writes through the gateway succeed on every component; their events wait in the outboxes.
    created = await client.post(f"{gateway}/api/v1/customers", json=new_customer(), headers=manager)
    assert created.status_code == 201, created.text
    read = await client.get(f"{gateway}/api/v1/customers/{created.json()['id']}", headers=manager)
    assert read.status_code == 200, read.text
    me = system.headers("customer", known)
    consent = await client.post(
        f"{gateway}/api/v1/consents", json=marketing_consent(known, recipient="bank-research"), headers=me
    )
    assert consent.status_code == 201, consent.text
    complaint = await client.post(
        f"{gateway}/api/v1/complaints",
        json={"customer_id": known, "category": "service", "channel": "web", "description": "no answer"},
        headers=me,
    )
    assert complaint.status_code == 201, complaint.text

    async def backlog(component):
        text = (await client.get(system.metrics_url(component))).text
        value = metric(text, "crm_outbox_unsent", source=component)
        assert value is not None and value >= 1, (component, value)

    for component in ("profile", "consent", "feedback"):
        await eventually(lambda: backlog(component), timeout=60)
