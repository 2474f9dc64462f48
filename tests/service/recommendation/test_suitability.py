"""Suitability checks in process: results with the rules that fired, the override flow, proof."""

import uuid

from tests.service.recommendation.helpers import (
    C3_ANSWERS,
    C5_ANSWERS,
    LOWEST_ANSWERS,
    assess,
    known_customer,
    new_product,
    opened,
)


async def check(svc, customer_id, body, *, role="relationship_manager", subject="rm-1"):
    async with svc.client(role, subject) as http:
        return await http.post(f"/api/v1/customers/{customer_id}/suitability-checks", json=body)


async def test_an_80_year_old_c5_customer_proposing_r5_gets_cooling_off_and_a_follow_up(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="1000000.00", age_band="80_plus")
    await assess(svc, customer_id, C5_ANSWERS)
    product = await new_product(svc, risk_level="R5", horizon_years=3)
    answer = await check(svc, customer_id, {"product_code": product["code"], "amount": "50000.00"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["result"] == "warn"
    assert [f["rule_id"] for f in body["findings"]] == ["ELDERLY-VULNERABLE"]
    assert body["findings"][0]["rule"].startswith("Customers aged 65 or over")
    assert body["cooling_off_until"] is not None
    assert [t["kind"] for t in body["follow_up_tasks"]] == ["elderly_or_vulnerable_follow_up"]


async def test_a_c3_customer_is_blocked_above_their_level_and_may_insist_only_with_the_warning(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="1000000.00")
    await assess(svc, customer_id, C3_ANSWERS)
    product = await new_product(svc, risk_level="R4")
    proposal = {"product_code": product["code"], "amount": "10000.00"}

    blocked = (await check(svc, customer_id, proposal)).json()
    assert blocked["result"] == "block" and blocked["overridable"] is True
    assert [f["rule_id"] for f in blocked["findings"]] == ["OWN-LEVEL"]
    warning = blocked["warning"]
    assert product["code"] in warning["text"] and len(warning["sha256"]) == 64

    unacknowledged = await check(svc, customer_id, {**proposal, "override": {"insist": True}})
    assert unacknowledged.status_code == 422
    assert unacknowledged.json()["title"] == "Override refused"
    assert unacknowledged.json()["warning"]["sha256"] == warning["sha256"]
    wrong = await check(
        svc, customer_id, {**proposal, "override": {"insist": True, "acknowledged_warning_sha256": "0" * 64}}
    )
    assert wrong.status_code == 422

    insisted = await check(
        svc, customer_id, {**proposal, "override": {"insist": True, "acknowledged_warning_sha256": warning["sha256"]}}
    )
    assert insisted.status_code == 201, insisted.text
    assert insisted.json()["result"] == "warn" and insisted.json()["overridden"] is True
    assert insisted.json()["findings"][0]["overridden"] is True


async def test_the_lowest_category_cannot_insist(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="1000000.00")
    await assess(svc, customer_id, LOWEST_ANSWERS)
    product = await new_product(svc, risk_level="R2", horizon_years=0, liquidity_days=1)
    blocked = (await check(svc, customer_id, {"product_code": product["code"], "amount": "5000.00"})).json()
    assert blocked["result"] == "block" and blocked["overridable"] is False and blocked["warning"] is None
    assert {f["rule_id"] for f in blocked["findings"]} == {"LOWEST", "OWN-LEVEL"}
    refused = await check(
        svc,
        customer_id,
        {
            "product_code": product["code"],
            "amount": "5000.00",
            "override": {"insist": True, "acknowledged_warning_sha256": "a" * 64},
        },
    )
    assert refused.status_code == 422 and "lowest category" in refused.json()["detail"]


async def test_without_assessment_nothing_above_r2_and_every_reason_is_given(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="100000.00")
    product = await new_product(svc, risk_level="R3", min_amount="200000.00")
    body = (await check(svc, customer_id, {"product_code": product["code"], "amount": "1000.00"})).json()
    assert body["result"] == "block"
    assert {f["rule_id"] for f in body["findings"]} == {"ASSESSED", "MIN-AMOUNT"}
    assert all(f["reason"] and f["rule"] for f in body["findings"])


async def test_concentration_counts_what_the_customer_already_holds(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="100000.00")
    await assess(svc, customer_id, C5_ANSWERS)
    product = await new_product(svc, risk_level="R5")
    await opened(svc, customer_id, product["code"], amount="15000.00")
    fits = (await check(svc, customer_id, {"product_code": product["code"], "amount": "5000.00"})).json()
    assert fits["result"] == "pass", fits
    too_much = (await check(svc, customer_id, {"product_code": product["code"], "amount": "10000.00"})).json()
    assert [f["rule_id"] for f in too_much["findings"]] == ["CONCENTRATION"]


async def test_a_stored_check_replays_to_the_same_answer_and_a_sale_follows_it(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="1000000.00", age_band="80_plus")
    await assess(svc, customer_id, C5_ANSWERS)
    product = await new_product(svc, risk_level="R5")
    body = (await check(svc, customer_id, {"product_code": product["code"], "amount": "10000.00"})).json()
    async with svc.client("compliance_officer", "co-1") as http:
        replay = (await http.get(f"/api/v1/customers/{customer_id}/suitability-checks/{body['id']}/replay")).json()
    assert replay["same"] is True and replay["replayed"]["result"] == "warn"

    async with svc.client("relationship_manager", "rm-1") as http:
        sale = await http.post(f"/api/v1/customers/{customer_id}/sales", json={"check_id": body["id"]})
        assert sale.status_code == 201, sale.text
        again = await http.post(f"/api/v1/customers/{customer_id}/sales", json={"check_id": body["id"]})
        assert again.status_code == 409
    async with svc.client("customer", customer_id) as http:
        holdings = (await http.get(f"/api/v1/customers/{customer_id}/holdings")).json()["items"]
    assert [(h["product_code"], h["source"], h["check_id"]) for h in holdings] == [
        (product["code"], "platform", body["id"])
    ]


async def test_a_blocked_check_cannot_be_sold(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc)
    product = await new_product(svc, risk_level="R5")
    body = (await check(svc, customer_id, {"product_code": product["code"], "amount": "10000.00"})).json()
    async with svc.client("relationship_manager", "rm-1") as http:
        sale = await http.post(f"/api/v1/customers/{customer_id}/sales", json={"check_id": body["id"]})
    assert sale.status_code == 409


async def test_another_customer_and_roles_that_must_not_write(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc)
    product = await new_product(svc, risk_level="R1")
    proposal = {"product_code": product["code"], "amount": "1000.00"}
    assert (await check(svc, customer_id, proposal, role="customer", subject=str(uuid.uuid4()))).status_code == 404
    for role in ("service_agent", "marketing_analyst", "product_manager", "compliance_officer"):
        assert (await check(svc, customer_id, proposal, role=role)).status_code == 403, role
    mine = await check(svc, customer_id, proposal, role="customer", subject=customer_id)
    assert mine.status_code == 201
    async with svc.client("customer", str(uuid.uuid4())) as http:
        assert (
            await http.get(f"/api/v1/customers/{customer_id}/suitability-checks/{mine.json()['id']}")
        ).status_code == 404
        assert (await http.get(f"/api/v1/customers/{customer_id}/holdings")).status_code == 404
        sale = await http.post(f"/api/v1/customers/{customer_id}/sales", json={"check_id": mine.json()["id"]})
        assert sale.status_code == 404
    for role in ("service_agent", "marketing_analyst", "product_manager"):
        async with svc.client(role, "x-1") as http:
            sale = await http.post(f"/api/v1/customers/{customer_id}/sales", json={"check_id": mine.json()["id"]})
        assert sale.status_code == 403, role


async def test_an_unknown_customer_or_product_is_a_404(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc)
    assert (await check(svc, str(uuid.uuid4()), {"product_code": "DEP-DEMAND", "amount": "1.00"})).status_code == 404
    assert (await check(svc, customer_id, {"product_code": "NOPE", "amount": "1.00"})).status_code == 404
