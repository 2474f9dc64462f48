"""Product holdings from core banking in the profile service: the number held follows the products
core banking reports open, in any order and each closing once, with the tier, history, events and
audit of any change; staff can no longer set it; nothing is kept for unknown or erased customers."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from events.contracts import CoreBankingProductClosedV1, CoreBankingProductOpenedV1, new_event
from services.kit.identity import caller_headers
from tests.service.profile.helpers import announced, create_customer

ADMIN = caller_headers("admin", "admin-h")
T = datetime(2026, 11, 1, tzinfo=UTC)


def opened(customer_id: str, holding: str):
    payload = CoreBankingProductOpenedV1(
        customer_id=customer_id,
        holding_id=holding,
        product_code="DEP-1Y",
        amount=Decimal("1000"),
        opened_at=T - timedelta(days=30),
    )
    return new_event("corebanking.product_opened", payload, source="corebanking")


def closed(customer_id: str, holding: str):
    payload = CoreBankingProductClosedV1(
        customer_id=customer_id, holding_id=holding, product_code="DEP-1Y", closed_at=T
    )
    return new_event("corebanking.product_closed", payload, source="corebanking")


async def record(profile, customer_id: str) -> dict:
    async with profile.client() as client:
        answer = await client.get(f"/api/v1/customers/{customer_id}", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_number_held_and_the_tier_follow_core_bankings_products_in_any_order(service):
    profile = await service("profile")
    async with profile.client() as client:
        # Below the mass threshold with no product: potential; holding any product makes it mass.
        customer = await create_customer(client, ADMIN, assets_under_management="1000.00", product_holdings=0)
    customer_id = customer["id"]
    assert customer["tier"] == "potential"
    a, b = f"{customer_id}-a", f"{customer_id}-b"

    await profile.deliver(closed(customer_id, b))  # b's closing overtakes its opening
    await profile.deliver(opened(customer_id, a))
    await profile.deliver(opened(customer_id, b))
    now_held = await record(profile, customer_id)
    assert (now_held["product_holdings"], now_held["tier"]) == (1, "mass")
    [changed] = await announced(profile, "customer.tier_changed", customer_id)
    assert (changed[0].payload["previous_tier"], changed[0].payload["tier"]) == ("potential", "mass")
    updates = [e.payload["changed_fields"] for e, _ in await announced(profile, "customer.updated", customer_id)]
    assert updates == [["product_holdings"]]

    closing = closed(customer_id, a)
    await profile.deliver(closing)
    await profile.deliver(closed(customer_id, a))  # reported again, under another event id
    after = await record(profile, customer_id)
    assert (after["product_holdings"], after["tier"]) == (0, "potential")
    async with profile.engine.connect() as connection:
        actors = (
            await connection.execute(
                sa.text("SELECT actor FROM audit_log WHERE customer_id = :c AND action = 'update'"), {"c": customer_id}
            )
        ).scalars()
        assert set(actors) == {"corebanking"}

    # The number is core banking's now: staff cannot set it, other fields as before.
    async with profile.client() as client:
        url = f"/api/v1/customers/{customer_id}"
        refused = await client.patch(url, json={"product_holdings": 4}, headers=ADMIN)
        assert refused.status_code == 409 and "Core banking" in refused.json()["detail"]
        assert (await client.patch(url, json={"occupation": "teacher"}, headers=ADMIN)).status_code == 200
    assert (await record(profile, customer_id))["product_holdings"] == 0


async def test_nothing_is_kept_for_an_unknown_or_erased_customer(service):
    profile = await service("profile")
    stranger = str(uuid.uuid4())
    await profile.deliver(opened(stranger, f"{stranger}-a"))
    async with profile.client() as client:
        customer = await create_customer(client, ADMIN)
        await profile.deliver(opened(customer["id"], f"{customer['id']}-a"))
        erased = await client.post(
            f"/api/v1/customers/{customer['id']}/erasure", json={"reason": "customer request"}, headers=ADMIN
        )
        assert erased.status_code == 202, erased.text
    await profile.deliver(opened(customer["id"], f"{customer['id']}-b"))
    async with profile.engine.connect() as connection:
        kept = await connection.scalar(
            sa.text("SELECT count(*) FROM holdings WHERE customer_id IN (:a, :b)"), {"a": stranger, "b": customer["id"]}
        )
    assert kept == 0
