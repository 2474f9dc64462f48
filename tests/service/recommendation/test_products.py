"""Product management in process: only product managers write; a re-rating re-matches holders
and open recommendations at once and announces each mismatch."""

import uuid

from tests.service.recommendation.helpers import C3_ANSWERS, C5_ANSWERS, assess, known_customer, new_product, opened


async def test_only_product_managers_add_change_rerate_and_withdraw(service):
    svc = await service("recommendation")
    product = await new_product(svc)
    code = product["code"]
    for role in ("relationship_manager", "admin", "customer", "compliance_officer"):
        async with svc.client(role, "x-1") as http:
            assert (
                await http.post("/api/v1/products", json={**product, "code": f"X-{uuid.uuid4().hex[:8].upper()}"})
            ).status_code in (403, 422), role
            assert (await http.patch(f"/api/v1/products/{code}", json={"title": "Renamed"})).status_code == 403, role
            assert (
                await http.post(f"/api/v1/products/{code}/risk-rating", json={"risk_level": "R1"})
            ).status_code == 403, role
            assert (await http.post(f"/api/v1/products/{code}/withdrawal")).status_code == 403, role

    async with svc.client("product_manager", "pm-1") as http:
        changed = await http.patch(f"/api/v1/products/{code}", json={"title": "Renamed", "min_amount": "500.00"})
        assert changed.status_code == 200 and changed.json()["version"] == 2
        rerate_here = await http.patch(f"/api/v1/products/{code}", json={"risk_level": "R5"})
        assert rerate_here.status_code == 422 and "risk-rating" in rerate_here.text
        duplicate = await http.post(
            "/api/v1/products", json={k: v for k, v in product.items() if k not in ("status", "version")}
        )
        assert duplicate.status_code == 409
        withdrawn = await http.post(f"/api/v1/products/{code}/withdrawal")
        assert withdrawn.json()["status"] == "withdrawn" and withdrawn.json()["version"] == 3
        listed = (await http.get("/api/v1/products")).json()["items"]
        assert code not in {p["code"] for p in listed}


async def test_rerating_to_r5_announces_a_mismatch_for_each_c3_holder_and_open_recommendation(service):
    svc = await service("recommendation")
    product = await new_product(svc, risk_level="R3", product_type="fund", min_amount="1.00")
    c3_holders = []
    for _ in range(3):
        customer_id = await known_customer(svc, assets="1000000.00")
        await assess(svc, customer_id, C3_ANSWERS)
        c3_holders.append((customer_id, await opened(svc, customer_id, product["code"])))
    c5_holder = await known_customer(svc, assets="1000000.00")
    await assess(svc, c5_holder, C5_ANSWERS)
    await opened(svc, c5_holder, product["code"])
    # An open recommendation of the product to a C3 customer who does not hold it.
    recommended_to = await known_customer(svc, assets="1000000.00")
    await assess(svc, recommended_to, C3_ANSWERS)
    async with svc.client("relationship_manager", "rm-1") as http:
        listed = (await http.get(f"/api/v1/customers/{recommended_to}/recommendations?mode=advice&limit=50")).json()
    assert product["code"] in {i["product"]["code"] for i in listed["items"]}

    async with svc.client("product_manager", "pm-1") as http:
        answer = await http.post(f"/api/v1/products/{product['code']}/risk-rating", json={"risk_level": "R5"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["previous_risk_level"], body["product"]["risk_level"]) == ("R3", "R5")
    assert body["holdings_checked"] == 4 and body["recommendations_checked"] >= 1
    assert body["mismatches"] == 4

    events = [
        e for e in await svc.published("suitability.mismatch_detected") if e.payload["product_code"] == product["code"]
    ]
    by_holding = {e.payload["holding_id"]: e for e in events if e.payload["holding_id"]}
    assert set(by_holding) == {holding for _, holding in c3_holders}
    for customer_id, holding in c3_holders:
        payload = by_holding[holding].payload
        assert payload["customer_id"] == customer_id and payload["rule_ids"] == ["OWN-LEVEL"]
        assert (payload["product_risk_level"], payload["customer_risk_level"], payload["cause"]) == (
            "R5",
            "C3",
            "product_rerated",
        )
    [recommendation] = [e for e in events if e.payload["recommendation_id"]]
    assert recommendation.payload["recommendation_id"] == listed["id"]
    assert recommendation.customer_id == recommended_to


async def test_a_lower_reassessment_tells_the_manager_about_holdings_above_the_new_level(service):
    svc = await service("recommendation")
    product = await new_product(svc, risk_level="R5")
    customer_id = await known_customer(svc, assets="1000000.00")
    await assess(svc, customer_id, C5_ANSWERS)
    holding = await opened(svc, customer_id, product["code"])
    await assess(svc, customer_id, C3_ANSWERS)
    [event] = await svc.published("suitability.mismatch_detected", customer_id=customer_id)
    assert (event.payload["holding_id"], event.payload["cause"]) == (holding, "assessment_changed")


async def test_the_list_has_only_active_products_and_filters_by_risk_level(service):
    svc = await service("recommendation")
    async with svc.client("gateway", "gateway") as http:
        answer = await http.get("/api/v1/products")
        assert answer.status_code == 200, answer.text
        products = answer.json()["items"]
        r4 = await http.get("/api/v1/products", params={"risk_level": "R4"})
    assert len(products) >= 10
    assert {p["risk_level"] for p in products} == {"R1", "R2", "R3", "R4", "R5"}
    assert "BOND-CORP-HY" not in {p["code"] for p in products}  # seeded inactive
    assert r4.status_code == 200
    r4_codes = {p["code"] for p in r4.json()["items"]}
    assert r4_codes and {p["risk_level"] for p in r4.json()["items"]} == {"R4"}
    assert r4_codes == {p["code"] for p in products if p["risk_level"] == "R4"}


async def test_an_unknown_risk_level_is_a_422_naming_the_field(service):
    svc = await service("recommendation")
    async with svc.client("gateway", "gateway") as http:
        answer = await http.get("/api/v1/products", params={"risk_level": "R9"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == "risk_level"
