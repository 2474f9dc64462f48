"""The customer read model, fed from profile and consent events: event-time ordering, marketing
consent granted and revoked, erasure."""

import uuid
from datetime import timedelta
from decimal import Decimal

from events.contracts import ConsentGrantedV1, ConsentRevokedV1, CustomerErasedV1, CustomerUpdatedV1, new_event
from services.kit.clock import now
from tests.service.recommendation.helpers import known_customer


async def recommendations(svc, customer_id: str):
    async with svc.client("customer", customer_id) as http:
        return await http.get(f"/api/v1/customers/{customer_id}/recommendations?limit=50")


async def test_an_older_event_does_not_overwrite_a_newer_state(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="20000.00")
    assert (await recommendations(svc, customer_id)).json()["items"]

    older = new_event(
        "customer.updated",
        CustomerUpdatedV1(
            customer_id=customer_id,
            assets_under_management=Decimal("5000000.00"),
            age_band="40_64",
            changed_fields=["assets_under_management"],
        ),
        source="profile",
    )
    await svc.deliver(older.model_copy(update={"time": now() - timedelta(hours=1)}))

    body = (await recommendations(svc, customer_id)).json()
    excluded = {e["product_code"]: e["rule_ids"] for e in body["excluded"]}
    assert "AFFORDABLE" in excluded["DEP-LCD-3Y"]  # still the newer assets: 20,000


async def test_a_marketing_consent_granted_then_revoked_turns_recommendations_on_and_off(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, marketing=False)
    withheld = (await recommendations(svc, customer_id)).json()
    assert withheld["items"] == [] and "marketing consent" in withheld["withheld"]

    consent_id = str(uuid.uuid4())
    granted = ConsentGrantedV1(
        consent_id=consent_id,
        customer_id=customer_id,
        recipient="wealth-management",
        purpose="marketing",
        data_categories=["basic", "risk"],
        expires_at=None,
    )
    await svc.deliver(new_event("consent.granted", granted, source="consent"))
    assert (await recommendations(svc, customer_id)).json()["items"]

    revoked = ConsentRevokedV1(
        consent_id=consent_id,
        customer_id=customer_id,
        recipient="wealth-management",
        purpose="marketing",
        revoked_at=now(),
    )
    await svc.deliver(new_event("consent.revoked", revoked, source="consent"))
    answer = await recommendations(svc, customer_id)
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == [] and "marketing consent" in answer.json()["withheld"]


async def test_an_erased_customer_is_forgotten(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc)
    assert (await recommendations(svc, customer_id)).json()["items"]

    erased = CustomerErasedV1(customer_id=customer_id, erased_at=now())
    await svc.deliver(new_event("customer.erased", erased, source="profile"))

    async with svc.client("gateway", "gateway") as http:
        answer = await http.get(f"/api/v1/customers/{customer_id}/recommendations")
    assert answer.status_code == 404
