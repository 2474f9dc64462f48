"""Recommendations in process: hard rules before ranking, reasons and exclusions, consent,
advice, proof and replay, KPIs."""

import uuid

from tests.service.recommendation.helpers import C4_ANSWERS, assess, known_customer, new_product, opened


async def recommend(svc, customer_id, *, role="customer", subject=None, query="limit=50"):
    async with svc.client(role, subject or customer_id) as http:
        return await http.get(f"/api/v1/customers/{customer_id}/recommendations?{query}")


async def test_a_c2_like_customer_without_assets_never_sees_a_200000_product(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="20000.00")
    body = (await recommend(svc, customer_id)).json()
    codes = {i["product"]["code"] for i in body["items"]}
    assert "DEP-LCD-3Y" not in codes
    excluded = {e["product_code"]: e["rule_ids"] for e in body["excluded"]}
    assert "AFFORDABLE" in excluded["DEP-LCD-3Y"]
    assert all(i["reasons"] for i in body["items"])
    assert [i["rank"] for i in body["items"]] == list(range(1, len(body["items"]) + 1))


async def test_picks_are_ranked_by_fit_and_similar_customers_holdings(service):
    svc = await service("recommendation")
    growth = await new_product(svc, risk_level="R3", product_type="fund", horizon_years=30, min_amount="1.00")
    for _ in range(3):
        peer = await known_customer(svc, assets="250000.00")
        await assess(svc, peer, C4_ANSWERS)
        await opened(svc, peer, growth["code"])
    from services.recommendation.holdings.service import learn_popularity

    async with svc.sessions() as session, session.begin():
        assert await learn_popularity(session) >= 1

    customer_id = await known_customer(svc, assets="250000.00")
    await assess(svc, customer_id, C4_ANSWERS)
    body = (await recommend(svc, customer_id)).json()
    first = body["items"][0]
    assert first["product"]["code"] == growth["code"], body["items"][:3]
    assert any(r.startswith("SIMILAR: held by 100%") for r in first["reasons"])
    assert any(r.startswith("GOAL") for r in first["reasons"])
    [made] = await svc.published("recommendation.made", customer_id=customer_id)
    assert made.payload["product_codes"][0] == growth["code"] and made.payload["mode"] == "proactive"

    async with svc.client("compliance_officer", "co-1") as http:
        replay = (await http.get(f"/api/v1/customers/{customer_id}/recommendations/{body['id']}/replay")).json()
    assert replay["same"] is True


async def test_a_list_replays_to_the_same_answer_after_the_catalogue_changed(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="250000.00")
    await assess(svc, customer_id, C4_ANSWERS)
    body = (await recommend(svc, customer_id)).json()
    await new_product(
        svc, risk_level="R1", product_type="deposit", horizon_years=0, liquidity_days=0, min_amount="0.00"
    )
    async with svc.client("relationship_manager", "rm-1") as http:
        replay = (await http.get(f"/api/v1/customers/{customer_id}/recommendations/{body['id']}/replay")).json()
    assert replay["same"] is True


async def test_proactive_needs_a_marketing_consent_and_advice_is_for_managers_and_recorded(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, marketing=False)
    withheld = (await recommend(svc, customer_id)).json()
    assert withheld["items"] == [] and "marketing consent" in withheld["withheld"] and withheld["id"] is None
    assert await svc.published("recommendation.made", customer_id=customer_id) == []

    advice = (
        await recommend(svc, customer_id, role="relationship_manager", subject="rm-1", query="mode=advice")
    ).json()
    assert advice["items"] and advice["mode"] == "advice"
    [made] = await svc.published("recommendation.made", customer_id=customer_id)
    assert made.payload["mode"] == "advice"

    for role in ("customer", "marketing_analyst"):
        refused = await recommend(svc, customer_id, role=role, subject=customer_id, query="mode=advice")
        assert refused.status_code == 403, role


async def test_another_or_an_unknown_customer_is_a_404_and_an_id_no_column_can_hold_a_422(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc)
    assert (await recommend(svc, customer_id, subject=str(uuid.uuid4()))).status_code == 404
    unknown = await recommend(svc, str(uuid.uuid4()), role="gateway", subject="gateway", query="")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "not known to the recommendation service" in unknown.json()["detail"]
    assert (await recommend(svc, str(uuid.uuid4()), role="relationship_manager", subject="rm-1")).status_code == 404
    for held_by_no_column in ("%00x", "x" * 65):
        refused = await recommend(svc, held_by_no_column, role="gateway", subject="gateway", query="")
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"


async def test_kpis_count_checks_by_result_overrides_and_mismatches(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="1000000.00")
    product = await new_product(svc, risk_level="R5")
    async with svc.client("relationship_manager", "rm-1") as http:
        for _ in range(2):
            await http.post(
                f"/api/v1/customers/{customer_id}/suitability-checks",
                json={"product_code": product["code"], "amount": "1000.00"},
            )
    async with svc.client("product_manager", "pm-1") as http:
        answer = await http.get("/api/v1/kpis/recommendation?by=product")
        assert answer.status_code == 200, answer.text
        report = answer.json()
        by_risk = (await http.get("/api/v1/kpis/recommendation?by=risk_level")).json()
        bad = await http.get("/api/v1/kpis/recommendation?by=channel")
    assert report["area"] == "recommendation"
    kpis = {k["name"]: k for k in report["kpis"]}
    assert set(kpis) == {"checks_pass", "checks_warn", "checks_block", "overrides", "suitability_mismatches"}
    blocked = {g["key"]: g["count"] for g in kpis["checks_block"]["breakdown"]}
    assert blocked[product["code"]] == 2
    r5 = {g["key"]: g["count"] for g in {k["name"]: k for k in by_risk["kpis"]}["checks_block"]["breakdown"]}
    assert r5["R5"] >= 2
    assert bad.status_code == 422


async def test_a_new_list_supersedes_the_earlier_ones_so_only_its_picks_are_re_matched(service):
    svc = await service("recommendation")
    product = await new_product(svc, risk_level="R3", min_amount="1.00", horizon_years=30)
    customer_id = await known_customer(svc, assets="1000000.00")
    await assess(svc, customer_id, C4_ANSWERS)
    first = (await recommend(svc, customer_id)).json()
    second = (await recommend(svc, customer_id)).json()
    assert product["code"] in {i["product"]["code"] for i in second["items"]}
    async with svc.client("product_manager", "pm-1") as http:
        rerated = (await http.post(f"/api/v1/products/{product['code']}/risk-rating", json={"risk_level": "R5"})).json()
    assert rerated["recommendations_checked"] == 1
    [event] = [e for e in await svc.published("suitability.mismatch_detected", customer_id=customer_id)]
    assert event.payload["recommendation_id"] == second["id"] != first["id"]
