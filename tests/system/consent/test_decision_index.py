"""Each consent replica answers decisions from an index of the consents it decided on lately,
kept current by consent events (services.consent.service.DecisionIndex). What only the whole
system shows: the replica that made a change answers from the changed state at once, and another
replica, following the consent topic on the real broker, drops what it kept when the change's
event arrives. How the index answers is tested in process
(tests/service/consent/test_decisions_fast.py, tests/unit/consent/test_decision_index.py)."""

import asyncio
import uuid

import httpx

from services.consent.schemas import DecisionRequest
from services.consent.service import DecisionIndex, DecisionReader
from services.kit.identity import GATEWAY_ROLE, caller_headers
from tests.support import eventually, introduce_customer, once_customer_known


def _decisions_from(metrics: str, source: str) -> float:
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith(f'crm_consent_decision_reads_total{{source="{source}"}}')
    )
    return float(line.rsplit(" ", 1)[1])


async def test_a_revocation_reaches_its_own_replica_at_once_and_another_through_its_event(system, kafka):
    customer_id = f"cust-{uuid.uuid4()}"
    await introduce_customer(kafka, customer_id)
    consent = system.url("consent")
    asked = DecisionRequest(
        customer_id=customer_id, recipient="insurer.index", purpose="marketing", data_categories=["basic"]
    )
    customer = caller_headers("customer", customer_id, customer_scope=customer_id)
    # Another replica: an index of its own in this process, on consent's database, following the broker.
    index = DecisionIndex(system.bootstrap_servers, customers=100, ttl_seconds=600)
    following = asyncio.create_task(index.follower.follow())
    async with (
        httpx.AsyncClient(base_url=consent, timeout=10) as http,
        DecisionReader.open(system.database_urls["consent"], 1, index) as other,
    ):
        assert other is not None

        async def decided_by_the_service() -> str:
            answer = await http.post(
                "/api/v1/decisions", json=asked.model_dump(mode="json"), headers=caller_headers(GATEWAY_ROLE, "gateway")
            )
            assert answer.status_code == 200, answer.text
            return answer.json()["reason"]

        # What the other replica's follower has read, as (event type, customer).
        read: list[tuple[str, str]] = []
        drop = index.follower.on_event

        def reading(envelope) -> None:
            read.append((envelope.type, envelope.customer_id))
            drop(envelope)

        index.follower.on_event = reading
        pair = (customer_id, asked.recipient)

        granted = await once_customer_known(
            lambda: http.post(
                "/api/v1/consents",
                json={**asked.model_dump(exclude={"as_of"}), "channel": "mobile"},
                headers=customer,
            )
        )
        assert granted.status_code == 201, granted.text
        await eventually(lambda: _assert(("consent.granted", customer_id) in read))

        async def kept_by_the_other() -> None:
            assert (await other.decide(asked)).reason == "active_consent"
            assert index.get(*pair) is not None  # kept: asked again, not read

        await eventually(kept_by_the_other)

        async def served_from_the_services_index() -> None:
            before = _decisions_from((await http.get(system.metrics_url("consent"))).text, "index")
            assert await decided_by_the_service() == "active_consent"
            assert _decisions_from((await http.get(system.metrics_url("consent"))).text, "index") > before

        await eventually(served_from_the_services_index)

        revoked = await http.post(f"/api/v1/consents/{granted.json()['id']}/revoke", headers=customer)
        assert revoked.status_code == 200, revoked.text
        # The replica that revoked: at once, with no event in between.
        assert await decided_by_the_service() == "consent_revoked"
        # The other holds the permit until the revocation's event comes through the broker.
        await eventually(lambda: _assert(("consent.revoked", customer_id) in read), timeout=10)
        assert index.get(*pair) is None
        assert (await other.decide(asked)).reason == "consent_revoked"
    following.cancel()
    await asyncio.gather(following, return_exceptions=True)


def _assert(condition: bool) -> None:
    assert condition
