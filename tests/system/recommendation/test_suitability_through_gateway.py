"""Suitability through the gateway: the issue's Done-when lines that only the whole system shows
(events crossing the broker, the gateway's roles and scoping)."""

import argparse
import uuid

import pytest

from events.contracts import topics
from events.examples.publish_holding import publish as publish_holding
from tests.support import eventually, new_customer

C5 = {"legal_capacity": "yes", "loss_tolerance": "over_30", "experience": "equities", "income": "very_stable",
      "horizon": "over_5y", "liquidity": "not_soon", "goal": "growth", "vulnerability": "no"}
C3 = {**C5, "loss_tolerance": "up_to_15", "experience": "deposits", "income": "stable"}


@pytest.fixture
def gateway(system):
    return system.url("gateway")


async def onboard(client, system, gateway, manager: str, answers: dict, **fields) -> str:
    created = await client.post(f"{gateway}/api/v1/customers", json=new_customer(**fields),
                                headers=system.headers("relationship_manager", manager))
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    me = system.headers("customer", customer_id)
    questionnaire = (await client.get(f"{gateway}/api/v1/risk-questionnaire", headers=me)).json()
    assessed = await client.post(f"{gateway}/api/v1/customers/{customer_id}/risk-assessments",
                                 json={"questionnaire_version": questionnaire["version"], "answers": answers},
                                 headers=me)
    assert assessed.status_code == 201, assessed.text
    return customer_id


async def add_product(client, system, gateway, risk_level: str) -> str:
    code = f"SYS-{uuid.uuid4().hex[:8].upper()}"
    answer = await client.post(f"{gateway}/api/v1/products", headers=system.headers("product_manager", "pm-1"), json={
        "code": code, "title": "System test fund", "product_type": "fund", "risk_level": risk_level,
        "description": "Made by a system test.", "horizon_years": 3, "liquidity_days": 3, "min_amount": "1000.00"})
    assert answer.status_code == 201, answer.text
    return code


async def check(client, system, gateway, customer_id: str, body: dict, manager: str):
    async def known():  # the customer event must have reached recommendation first
        answer = await client.post(f"{gateway}/api/v1/customers/{customer_id}/suitability-checks", json=body,
                                   headers=system.headers("relationship_manager", manager))
        assert answer.status_code != 404 or "not known" not in answer.text, answer.text
        return answer

    return await eventually(known)


async def test_a_customer_answers_gets_a_level_and_expiry_and_nobody_patches_it(system, client, gateway):
    customer_id = await onboard(client, system, gateway, "rm-s1", C5)
    me = system.headers("customer", customer_id)
    current = (await client.get(f"{gateway}/api/v1/customers/{customer_id}/risk-assessments/current",
                                headers=me)).json()
    assert current["risk_level"] == "C5" and current["valid_until"] and current["recorded_by_role"] == "customer"

    for headers in (system.headers("relationship_manager", "rm-s1"), me):
        refused = await client.patch(f"{gateway}/api/v1/customers/{customer_id}", json={"risk_level": "C1"},
                                     headers=headers)
        # Refused by the gateway's write rules (403, naming the field) or, where the route lets the
        # role write other fields, by profile itself (422, saying where the level comes from).
        assert refused.status_code in (403, 422), refused.text
        problem = refused.json()
        if refused.status_code == 403:
            assert problem["detail"].endswith("may not set: risk_level.")
        else:
            assert problem["errors"][0]["field"] == "risk_level"
            assert "comes from a risk assessment" in problem["errors"][0]["message"]

    async def profile_shows_it():
        body = (await client.get(f"{gateway}/api/v1/customers/{customer_id}", headers=me)).json()
        assert body["risk_level"] == "C5" and body["risk_level_valid_until"], body

    await eventually(profile_shows_it)


async def test_an_80_year_old_c5_customer_proposing_r5_gets_cooling_off_and_a_follow_up(system, client, gateway):
    customer_id = await onboard(client, system, gateway, "rm-s2", C5, birth_date="1946-01-15")
    code = await add_product(client, system, gateway, "R5")
    answer = await check(client, system, gateway, customer_id, {"product_code": code, "amount": "10000.00"}, "rm-s2")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["result"] == "warn"
    assert [f["rule_id"] for f in body["findings"]] == ["ELDERLY-VULNERABLE"]
    assert body["cooling_off_until"] and body["follow_up_tasks"][0]["kind"] == "elderly_or_vulnerable_follow_up"


async def test_an_override_without_the_warning_acknowledged_is_refused(system, client, gateway):
    customer_id = await onboard(client, system, gateway, "rm-s3", C3)
    code = await add_product(client, system, gateway, "R5")
    proposal = {"product_code": code, "amount": "10000.00"}
    blocked = (await check(client, system, gateway, customer_id, proposal, "rm-s3")).json()
    assert blocked["result"] == "block" and blocked["overridable"] and blocked["warning"]["text"]

    refused = await check(client, system, gateway, customer_id, {**proposal, "override": {"insist": True}}, "rm-s3")
    assert refused.status_code == 422 and refused.json()["title"] == "Override refused"

    # Not their customer, not this customer, not a role that proposes sales.
    other_manager = await client.post(f"{gateway}/api/v1/customers/{customer_id}/suitability-checks", json=proposal,
                                      headers=system.headers("relationship_manager", "rm-other"))
    assert other_manager.status_code == 404
    other_customer = await client.post(f"{gateway}/api/v1/customers/{customer_id}/suitability-checks", json=proposal,
                                       headers=system.headers("customer", str(uuid.uuid4())))
    assert other_customer.status_code == 404
    for role in ("marketing_analyst", "service_agent", "product_manager"):
        forbidden = await client.post(f"{gateway}/api/v1/customers/{customer_id}/suitability-checks", json=proposal,
                                      headers=system.headers(role, "x-1"))
        assert forbidden.status_code == 403, role
    # Every customer route of the service: another manager's customer looks as if it did not exist.
    check_id = blocked["id"]
    for method, path, body in (
        ("POST", "risk-assessments", {"questionnaire_version": "2026.1", "answers": C3}),
        ("GET", "risk-assessments/current", None),
        ("GET", "holdings", None),
        ("POST", "sales", {"check_id": check_id}),
        ("GET", f"suitability-checks/{check_id}", None),
        ("GET", f"suitability-checks/{check_id}/replay", None),
        ("GET", "recommendations?mode=advice", None),
    ):
        answer = await client.request(method, f"{gateway}/api/v1/customers/{customer_id}/{path}", json=body,
                                      headers=system.headers("relationship_manager", "rm-other"))
        assert answer.status_code == 404, (method, path, answer.text)
        mine = await client.request(method, f"{gateway}/api/v1/customers/{customer_id}/{path}", json=body,
                                    headers=system.headers("relationship_manager", "rm-s3"))
        assert mine.status_code < 400 or (path == "sales" and mine.status_code == 409), (method, path, mine.text)
    not_product_role = await client.post(f"{gateway}/api/v1/products/{code}/risk-rating", json={"risk_level": "R1"},
                                         headers=system.headers("relationship_manager", "rm-s3"))
    assert not_product_role.status_code == 403


async def test_rerating_a_product_to_r5_produces_mismatch_events_for_its_c3_holders(system, kafka, client, gateway):
    code = await add_product(client, system, gateway, "R3")
    c3_holders = [await onboard(client, system, gateway, "rm-s4", C3) for _ in range(2)]
    c5_holder = await onboard(client, system, gateway, "rm-s4", C5)
    for customer_id in [*c3_holders, c5_holder]:
        await publish_holding(argparse.Namespace(
            change="opened", customer=customer_id, holding=f"CB-{uuid.uuid4().hex[:10]}", product=code,
            amount="5000", bootstrap_servers=system.bootstrap_servers))

    async def all_held():
        for customer_id in [*c3_holders, c5_holder]:
            held = (await client.get(f"{gateway}/api/v1/customers/{customer_id}/holdings",
                                     headers=system.headers("customer", customer_id))).json()
            assert [h["product_code"] for h in held["items"]] == [code], held

    await eventually(all_held)
    rerated = await client.post(f"{gateway}/api/v1/products/{code}/risk-rating", json={"risk_level": "R5"},
                                headers=system.headers("product_manager", "pm-1"))
    assert rerated.status_code == 200, rerated.text
    assert rerated.json()["mismatches"] == 2

    found = await kafka.wait_for(
        topics.SUITABILITY,
        lambda e, h: e.type == "suitability.mismatch_detected" and e.payload["product_code"] == code, count=2)
    assert {e.customer_id for e, _ in found} == set(c3_holders)
    assert all(e.payload["rule_ids"] == ["OWN-LEVEL"] and e.payload["customer_risk_level"] == "C3" for e, _ in found)
    assert all(headers["key"] == e.customer_id for e, headers in found)
