"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows (issue 7, item 1), reproduced
as found: a marketing analyst's permit is cached, the broker hangs (SIGSTOP), the customer
revokes; the gateway must stop releasing the customer's data within about a second, although
the revocation event cannot reach it. The same holds for a consent replica's decision index.
This module runs its own broker so it can freeze it."""

import asyncio
import time

import httpx
import pytest

from events.broker import LocalBroker
from services.consent.schemas import DecisionRequest
from services.consent.service import DecisionIndex, DecisionReader
from tests import databases
from tests.support import System, eventually, free_port, marketing_consent, new_customer, once_customer_known

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


async def consenting_customer(http: httpx.AsyncClient, trio: System) -> tuple[str, str]:
    """A customer who consented to marketing by the bank: (customer id, consent id)."""
    gateway = trio.url("gateway")
    created = await http.post(f"{gateway}/api/v1/customers", json=new_customer(), headers=trio.headers("admin"))
    customer_id = created.json()["id"]
    granted = await once_customer_known(
        lambda: http.post(
            f"{gateway}/api/v1/consents",
            headers=trio.headers("customer", customer_id),
            json=marketing_consent(customer_id, data_categories=["basic"]),
        )
    )
    assert granted.status_code == 201, granted.text
    return customer_id, granted.json()["id"]


async def test_a_revocation_denies_within_a_second_while_the_broker_hangs(trio, frozen_broker):
    gateway = trio.url("gateway")
    async with httpx.AsyncClient(timeout=30) as http:
        customer_id, consent_id = await consenting_customer(http, trio)
        url, analyst = f"{gateway}/api/v1/customers/{customer_id}", trio.headers("marketing_analyst")
        assert (await http.get(url, headers=analyst)).status_code == 200  # permit now cached

        frozen_broker.freeze()
        try:
            revoked = await http.post(
                f"{gateway}/api/v1/consents/{consent_id}/revoke",
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


async def test_another_consent_replica_answers_a_revocation_within_a_second_while_the_broker_hangs(trio, frozen_broker):
    """A second consent replica (its decision index in this process, on consent's database,
    following this broker) holds the customer's permit; the broker hangs and the customer revokes
    through the first. The revocation's event cannot reach the second, yet within about a second
    it stops answering from its index and reads the revocation."""
    gateway = trio.url("gateway")
    index = DecisionIndex(frozen_broker.bootstrap_servers, customers=100, ttl_seconds=600)
    following = asyncio.create_task(index.follower.follow())
    try:
        async with (
            httpx.AsyncClient(timeout=30) as http,
            DecisionReader.open(trio.database_urls["consent"], 1, index) as other,
        ):
            assert other is not None
            customer_id, consent_id = await consenting_customer(http, trio)
            asked = DecisionRequest(
                customer_id=customer_id, recipient="bank-marketing", purpose="marketing", data_categories=["basic"]
            )

            async def kept() -> None:
                assert (await other.decide(asked)).reason == "active_consent"
                assert index.get(customer_id, "bank-marketing") is not None

            await eventually(kept)
            frozen_broker.freeze()
            try:
                revoked = await http.post(
                    f"{gateway}/api/v1/consents/{consent_id}/revoke", headers=trio.headers("customer", customer_id)
                )
                assert revoked.status_code == 200, revoked.text
                started = time.monotonic()
                while (answer := await other.decide(asked)).reason == "active_consent":
                    assert time.monotonic() - started < 2.0, "the other replica still permits"
                    await asyncio.sleep(0.05)
                assert answer.reason == "consent_revoked", answer
            finally:
                frozen_broker.thaw()
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
