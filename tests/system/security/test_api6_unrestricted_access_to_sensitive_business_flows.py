"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows (issue 7, item 1), reproduced
as found: a marketing analyst's permit is cached, the broker hangs (SIGSTOP), the customer
revokes; the gateway must stop releasing the customer's data within about a second, although
the revocation event cannot reach it. This module runs its own broker so it can freeze it."""

import asyncio
import time

import httpx
import pytest

from events.broker import LocalBroker
from tests import databases
from tests.support import System, free_port, new_customer, once_customer_known

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def frozen_broker():
    broker = LocalBroker(free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def trio(frozen_broker, tmp_path_factory):
    urls = asyncio.run(
        databases.migrated(prefix=f"{databases.PREFIX}_failclosed", components=["profile", "consent", "gateway"])
    )
    running = System(
        database_urls=urls,
        bootstrap_servers=frozen_broker.bootstrap_servers,
        workdir=tmp_path_factory.mktemp("failclosed"),
        components=["profile", "consent", "gateway"],
        at_head=True,
    )
    running.start()
    yield running
    running.stop()


async def test_a_revocation_denies_within_a_second_while_the_broker_hangs(trio, frozen_broker):
    gateway = trio.url("gateway")
    async with httpx.AsyncClient(timeout=30) as http:
        created = await http.post(f"{gateway}/api/v1/customers", json=new_customer(), headers=trio.headers("admin"))
        customer_id = created.json()["id"]
        granted = await once_customer_known(
            lambda: http.post(
                f"{gateway}/api/v1/consents",
                headers=trio.headers("customer", customer_id),
                json={
                    "customer_id": customer_id,
                    "recipient": "bank-marketing",
                    "purpose": "marketing",
                    "data_categories": ["basic"],
                },
            )
        )
        assert granted.status_code == 201, granted.text
        url, analyst = f"{gateway}/api/v1/customers/{customer_id}", trio.headers("marketing_analyst")
        assert (await http.get(url, headers=analyst)).status_code == 200  # permit now cached

        frozen_broker.freeze()
        try:
            revoked = await http.post(
                f"{gateway}/api/v1/consents/{granted.json()['id']}/revoke",
                headers=trio.headers("customer", customer_id),
            )
            assert revoked.status_code == 200, revoked.text
            started = time.monotonic()
            while (answer := await http.get(url, headers=analyst)).status_code == 200:
                assert time.monotonic() - started < 2.0, "the revoked consent still releases data"
                await asyncio.sleep(0.05)
            assert answer.status_code == 403, answer.text
        finally:
            frozen_broker.thaw()
