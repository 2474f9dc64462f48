"""Recommendation against the running system: the customer read model fed from crm.customer,
event-time ordering, consent, erasure and poison messages (rules and ranking: tests/unit and
tests/service/recommendation)."""

import uuid
from datetime import timedelta
from decimal import Decimal

from events.contracts import (
    ConsentGrantedV1,
    ConsentRevokedV1,
    CustomerCreatedV1,
    CustomerErasedV1,
    CustomerUpdatedV1,
    new_event,
    topics,
)
from events.contracts.envelope import Envelope
from services.kit.clock import now
from services.kit.identity import caller_headers
from tests.support import eventually


def created(customer_id: str, assets: str = "250000.00") -> Envelope:
    payload = CustomerCreatedV1(customer_id=customer_id, assets_under_management=Decimal(assets), age_band="40_64")
    return new_event("customer.created", payload, source="profile")


def updated(customer_id: str, assets: str) -> Envelope:
    payload = CustomerUpdatedV1(
        customer_id=customer_id,
        assets_under_management=Decimal(assets),
        age_band="40_64",
        changed_fields=["assets_under_management"],
    )
    return new_event("customer.updated", payload, source="profile")


async def publish(kafka, envelope: Envelope, topic: str = topics.CUSTOMER) -> None:
    await kafka.publish(topic, envelope.model_dump_json().encode(), key=envelope.customer_id)


def marketing_consent(customer_id: str, consent_id: str) -> Envelope:
    payload = ConsentGrantedV1(
        consent_id=consent_id,
        customer_id=customer_id,
        recipient="wealth-management",
        purpose="marketing",
        data_categories=["basic", "risk"],
        expires_at=None,
    )
    return new_event("consent.granted", payload, source="consent")


async def onboard(kafka, customer_id: str, assets: str = "250000.00") -> str:
    """A customer known to recommendation, with a marketing consent; returns the consent id."""
    consent_id = str(uuid.uuid4())
    await publish(kafka, created(customer_id, assets))
    await publish(kafka, marketing_consent(customer_id, consent_id), topics.CONSENT)
    return consent_id


async def recommendations(client, system, customer_id: str, *, consented: bool = True) -> dict:
    """The customer's recommendations, once known. Consent events travel on their own topic, so
    they may arrive after the customer's."""

    async def check():
        response = await client.get(
            f"{system.url('recommendation')}/api/v1/customers/{customer_id}/recommendations?limit=50",
            headers=caller_headers("customer", customer_id),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        if consented:
            assert body["items"], body
        return body

    return await eventually(check)


async def active_products(client, system) -> list[dict]:
    response = await client.get(f"{system.url('recommendation')}/api/v1/products")
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_products_lists_active_products_and_filters_by_risk(system, client):
    products = await active_products(client, system)
    assert len(products) >= 10
    assert {p["risk_level"] for p in products} == {"R1", "R2", "R3", "R4", "R5"}
    assert "BOND-CORP-HY" not in {p["code"] for p in products}  # seeded inactive

    response = await client.get(f"{system.url('recommendation')}/api/v1/products", params={"risk_level": "R4"})
    assert response.status_code == 200
    r4 = response.json()["items"]
    assert r4 and {p["risk_level"] for p in r4} == {"R4"}
    assert {p["code"] for p in r4} == {p["code"] for p in products if p["risk_level"] == "R4"}


async def test_products_rejects_an_unknown_risk_level(system, client):
    response = await client.get(f"{system.url('recommendation')}/api/v1/products", params={"risk_level": "R9"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "risk_level"


async def test_an_older_event_does_not_overwrite_a_newer_state(system, kafka, client):
    customer_id = str(uuid.uuid4())
    newer = created(customer_id, assets="20000.00")
    await publish(kafka, newer)
    await publish(kafka, marketing_consent(customer_id, str(uuid.uuid4())), topics.CONSENT)
    await recommendations(client, system, customer_id)

    older = updated(customer_id, "5000000.00").model_copy(update={"time": newer.time - timedelta(hours=1)})
    await publish(kafka, older)
    await kafka.drained(topics.CUSTOMER, "customer.updated", customer_id, "recommendation")

    body = await recommendations(client, system, customer_id)
    excluded = {e["product_code"]: e["rule_ids"] for e in body["excluded"]}
    assert "AFFORDABLE" in excluded["DEP-LCD-3Y"]  # still the newer assets: 20,000


async def test_unknown_customer_is_a_404_problem(system, client):
    response = await client.get(f"{system.url('recommendation')}/api/v1/customers/{uuid.uuid4()}/recommendations")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "not known to the recommendation service" in response.json()["detail"]


async def test_a_message_that_is_not_json_is_dead_lettered_and_the_consumer_goes_on(system, kafka, client):
    customer_id = str(uuid.uuid4())
    garbage = f"not json {uuid.uuid4()}".encode()
    await kafka.publish(topics.CUSTOMER, garbage, key=customer_id)

    async def dead_lettered() -> dict:
        records = await kafka.read_all(topics.DEAD_LETTER)
        found = [h for value, h in records if value == garbage and h.get("dlq_consumer_group") == "recommendation"]
        assert found
        return found[0]

    headers = await eventually(dead_lettered)
    assert headers["dlq_reason"].startswith("not an event envelope")
    assert headers["dlq_topic"] == topics.CUSTOMER

    await onboard(kafka, customer_id)
    body = await recommendations(client, system, customer_id)
    assert body["customer_id"] == customer_id


async def test_a_customer_id_the_database_cannot_hold_is_a_422_not_a_500(system, client):
    for customer_id in ("%00x", "x" * 65):
        response = await client.get(f"{system.url('recommendation')}/api/v1/customers/{customer_id}/recommendations")
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"


async def test_no_marketing_consent_means_no_recommendation(system, kafka, client):
    customer_id = str(uuid.uuid4())
    await publish(kafka, created(customer_id))
    body = await recommendations(client, system, customer_id, consented=False)
    assert body["items"] == [] and "marketing consent" in body["withheld"]

    consent_id = str(uuid.uuid4())
    await publish(kafka, marketing_consent(customer_id, consent_id), topics.CONSENT)
    await recommendations(client, system, customer_id)

    revoked = ConsentRevokedV1(
        consent_id=consent_id,
        customer_id=customer_id,
        recipient="wealth-management",
        purpose="marketing",
        revoked_at=now(),
    )
    await publish(kafka, new_event("consent.revoked", revoked, source="consent"), topics.CONSENT)

    async def withheld():
        body = await recommendations(client, system, customer_id, consented=False)
        assert body["items"] == [], body

    await eventually(withheld)


async def test_customer_erased_is_forgotten(system, kafka, client):
    customer_id = str(uuid.uuid4())
    await onboard(kafka, customer_id)
    await recommendations(client, system, customer_id)
    erased = CustomerErasedV1(customer_id=customer_id, erased_at=now())
    await publish(kafka, new_event("customer.erased", erased, source="profile"))

    async def forgotten():
        response = await client.get(f"{system.url('recommendation')}/api/v1/customers/{customer_id}/recommendations")
        assert response.status_code == 404

    await eventually(forgotten)
