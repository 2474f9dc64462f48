"""A Kafka outage is not an API outage: with the broker gone every component stays ready (its
readiness asks only whether it can serve: database reachable and migrated), writes through the
gateway succeed, and the outage shows where operators look for it: the broker-reachability and
outbox-backlog metrics. Runs the whole system on a broker and databases of its own."""

import asyncio
import re

import pytest

from events.broker import LocalBroker
from tests import databases
from tests.support import System, eventually, free_port, marketing_consent, new_customer

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def without_broker(tmp_path_factory):
    broker = LocalBroker(free_port())
    broker.start()
    urls = asyncio.run(databases.recreate(prefix=f"{databases.PREFIX}_outage"))
    running = System(database_urls=urls, bootstrap_servers=broker.bootstrap_servers, workdir=tmp_path_factory.mktemp("outage"))
    try:
        running.start()
        broker.stop()
        yield running
    finally:
        running.stop()


def metric(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


async def test_every_component_stays_ready_and_writes_succeed_while_the_broker_is_down(without_broker, client):
    system = without_broker

    # Each component that uses the broker notices it is gone (its probe metric drops to 0) ...
    async def broker_seen_down(component):
        text = (await client.get(f"{system.url(component)}/metrics")).text
        assert metric(text, "crm_broker_reachable", component=component) == 0.0

    for component in system.components:
        await eventually(lambda: broker_seen_down(component), timeout=60)

    # ... and is still ready: readiness is about serving, not about Kafka.
    for component in system.components:
        response = await client.get(f"{system.url(component)}/readyz")
        assert response.status_code == 200, (component, response.text)
        assert response.json()["checks"] == {"database": "ok", "migrations": "ok"}

    # Writes through the gateway succeed; their events wait in the outboxes.
    gateway = system.url("gateway")
    rm = system.headers("relationship_manager", "rm-outage")
    created = await client.post(f"{gateway}/api/v1/customers", json=new_customer(), headers=rm)
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    me = system.headers("customer", customer_id)
    consent = await client.post(f"{gateway}/api/v1/consents", json=marketing_consent(customer_id), headers=me)
    assert consent.status_code == 201, consent.text
    complaint = await client.post(
        f"{gateway}/api/v1/complaints",
        json={"customer_id": customer_id, "category": "service", "channel": "web", "description": "slow"},
        headers=me,
    )
    assert complaint.status_code == 201, complaint.text
    read = await client.get(f"{gateway}/api/v1/customers/{customer_id}", headers=rm)
    assert read.status_code == 200, read.text

    async def backlog(component):
        text = (await client.get(f"{system.url(component)}/metrics")).text
        value = metric(text, "crm_outbox_unsent", source=component)
        assert value is not None and value >= 1, (component, value)

    for component in ("profile", "consent", "feedback"):
        await eventually(lambda: backlog(component), timeout=60)
