"""Exactly-once in effect across broker outages and redeliveries.

The effect under test is not idempotent by itself: churn counts complaints. The feedback service
writes a complaint and its `complaint.opened` event in one transaction; its relay publishes;
churn applies each event once. This module runs its own broker (so it can stop it) and its own
databases.
"""

import asyncio
import uuid

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from events.broker import LocalBroker
from events.contracts import topics
from services.kit.identity import caller_headers
from tests import databases
from tests.support import KafkaProbe, System, eventually, free_port, introduce_customer, once_customer_known

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def outage_broker():
    broker = LocalBroker(free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def pair(outage_broker, tmp_path_factory):
    urls = asyncio.run(databases.migrated(prefix=f"{databases.PREFIX}_delivery", components=["feedback", "churn"]))
    running = System(
        database_urls=urls,
        bootstrap_servers=outage_broker.bootstrap_servers,
        workdir=tmp_path_factory.mktemp("delivery"),
        components=["feedback", "churn"],
        at_head=True,
    )
    running.start()
    yield running
    running.stop()


class ComplaintWriter:
    """Files complaints for one customer through the feedback API, counting the accepted ones."""

    def __init__(self, system: System, customer_id: str):
        self.url = system.url("feedback") + "/api/v1/complaints"
        self.customer_id = customer_id
        self.accepted = 0
        self.kafka = KafkaProbe(system.bootstrap_servers)
        self.introduced = False

    async def write(self, http: httpx.AsyncClient, count: int = 1) -> None:
        if not self.introduced:  # feedback takes complaints only from customers it has learnt of
            await introduce_customer(self.kafka, self.customer_id)
            self.introduced = True
        for _ in range(count):
            response = await once_customer_known(
                lambda: http.post(
                    self.url,
                    json={
                        "customer_id": self.customer_id,
                        "category": "service",
                        "channel": "web",
                        "description": "slow",
                    },
                )
            )
            assert response.status_code == 201, response.text
            self.accepted += 1

    async def write_for(self, http: httpx.AsyncClient, seconds: float, interval: float = 0.05) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while loop.time() < until:
            await self.write(http)
            await asyncio.sleep(interval)


async def complaints_seen_by_churn(http: httpx.AsyncClient, system: System, customer_id: str) -> int:
    response = await http.get(f"{system.url('churn')}/api/v1/customers/{customer_id}/churn-risk")
    if response.status_code == 404:
        return 0
    assert response.status_code == 200, response.text
    return response.json()["features"]["complaints"]


async def assert_settles_at(http, system, customer_id: str, expected: int, *, settled: bool = True) -> None:
    """Churn has applied `expected` complaints, and (`settled`) no more can come: feedback's
    outbox has nothing left to send, and churn has handled everything on the topic for the
    customer (a marker behind their events reaches its dead-letter topic), so a duplicate would
    have been applied by now. A count taken before the faults a test injects need not be settled:
    the count at the end would show a late duplicate as well."""

    async def check():
        assert await complaints_seen_by_churn(http, system, customer_id) == expected

    await eventually(check, timeout=60)
    if settled:

        async def all_sent():
            assert await unsent_events(system, "feedback") == 0

        await eventually(all_sent, timeout=60)
        await KafkaProbe(system.bootstrap_servers).drained(topics.COMPLAINT, "complaint.opened", customer_id, "churn")
        await check()


async def unsent_events(system: System, component: str) -> int:
    engine = create_async_engine(system.database_urls[component])
    try:
        async with engine.connect() as connection:
            return (await connection.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))).scalar_one()
    finally:
        await engine.dispose()


async def test_writes_go_on_while_the_broker_hangs(pair, outage_broker):
    writer = ComplaintWriter(pair, str(uuid.uuid4()))
    async with httpx.AsyncClient(timeout=30, headers=caller_headers("admin", "admin-1")) as http:
        await writer.write(http)  # the feedback service knows the customer before the broker hangs
        background = asyncio.create_task(writer.write_for(http, seconds=6))
        await asyncio.sleep(1.5)
        outage_broker.freeze()
        try:
            await asyncio.sleep(3)  # writes keep being accepted; their events wait in the outbox
            assert await unsent_events(pair, "feedback") > 0
            metrics = (await http.get(pair.metrics_url("feedback"))).text
            assert 'crm_events_published_total{source="feedback",type="complaint.opened"}' in metrics
        finally:
            outage_broker.thaw()
        await background
        await assert_settles_at(http, pair, writer.customer_id, writer.accepted)
        churn_metrics = (await http.get(pair.metrics_url("churn"))).text
        assert 'crm_events_consumed_total{group="churn",outcome="applied",type="complaint.opened"}' in churn_metrics
    # Writes went on through the freeze (a complaint opens a case with its SLA clocks: several
    # statements each, so on a busy machine some dozens in the six seconds, not hundreds).
    assert writer.accepted > 20
    assert await unsent_events(pair, "feedback") == 0


async def test_broker_restart_loses_no_committed_event(pair, outage_broker):
    writer = ComplaintWriter(pair, str(uuid.uuid4()))
    async with httpx.AsyncClient(timeout=30, headers=caller_headers("admin", "admin-1")) as http:
        await writer.write(http, 10)
        await assert_settles_at(http, pair, writer.customer_id, 10, settled=False)

        outage_broker.stop()
        await writer.write_for(http, seconds=3)  # accepted while no broker runs at all
        during_outage = writer.accepted - 10
        assert during_outage > 10
        assert await unsent_events(pair, "feedback") >= during_outage

        # The local broker keeps its log in memory, so it comes back as a new, empty cluster at the
        # same address. Clients that reconnect before its topics exist would auto-create them with
        # other partitions, and consumers would hold positions from the old cluster: states a
        # durable Kafka cluster never presents. So both components restart around the broker, as
        # after a cluster replacement; the 3 s of writes above stay committed in the outbox.
        pair.stop_component("feedback")
        pair.stop_component("churn")
        outage_broker.start()
        for component in ("feedback", "churn"):
            pair.start_component(component)
        for component in ("feedback", "churn"):  # started side by side
            pair.wait_ready(component)
        await writer.write_for(http, seconds=2)
        await assert_settles_at(http, pair, writer.customer_id, writer.accepted)
    assert await unsent_events(pair, "feedback") == 0


async def test_republished_events_are_applied_once(pair, outage_broker):
    """A relay that crashed after publishing re-sends its batch; the consumer's inbox drops it."""
    writer = ComplaintWriter(pair, str(uuid.uuid4()))
    async with httpx.AsyncClient(timeout=30, headers=caller_headers("admin", "admin-1")) as http:
        await writer.write(http, 5)
        await assert_settles_at(http, pair, writer.customer_id, 5, settled=False)

        engine = create_async_engine(pair.database_urls["feedback"])
        try:
            async with engine.begin() as connection:
                resent = await connection.execute(
                    sa.text("UPDATE outbox SET sent_at = NULL WHERE aggregateid = :c AND type = 'complaint.opened.v1'"),
                    {"c": writer.customer_id},  # (each complaint also published case.opened)
                )
                assert resent.rowcount == 5
        finally:
            await engine.dispose()

        probe = KafkaProbe(outage_broker.bootstrap_servers)
        await probe.wait_for(
            "crm.complaint", lambda e, h: e.customer_id == writer.customer_id, count=10, timeout=30
        )  # every event is now on the topic twice
        await assert_settles_at(http, pair, writer.customer_id, 5)


async def test_concurrent_writers_lose_nothing_across_a_broker_restart(pair, outage_broker):
    """Load held without loss (R5.3): ten writers, a customer each, write at once before, during
    and after a broker outage; churn applies every complaint that was accepted, once."""
    writers = [ComplaintWriter(pair, str(uuid.uuid4())) for _ in range(10)]
    headers = caller_headers("admin", "admin-1")
    async with httpx.AsyncClient(timeout=30, headers=headers, limits=httpx.Limits(max_connections=20)) as http:

        async def all_write(seconds: float) -> None:
            await asyncio.gather(*(writer.write_for(http, seconds=seconds, interval=0) for writer in writers))

        for writer in writers:  # each customer known to feedback before the load starts
            await writer.write(http)
        await all_write(2)
        # The local broker keeps its log in memory only: what it holds goes with it when it stops
        # (a durable cluster keeps it), so churn first takes everything published so far.
        for writer in writers:
            await assert_settles_at(http, pair, writer.customer_id, writer.accepted, settled=False)
        outage_broker.stop()
        before_outage = sum(writer.accepted for writer in writers)
        await all_write(3)  # accepted while no broker runs at all
        assert await unsent_events(pair, "feedback") >= sum(writer.accepted for writer in writers) - before_outage > 0

        pair.stop_component("feedback")  # as above: the components restart around a new, empty broker
        pair.stop_component("churn")
        outage_broker.start()
        for component in ("feedback", "churn"):
            pair.start_component(component)
        for component in ("feedback", "churn"):
            pair.wait_ready(component)
        await all_write(2)
        for writer in writers:
            await assert_settles_at(http, pair, writer.customer_id, writer.accepted)
    assert await unsent_events(pair, "feedback") == 0
