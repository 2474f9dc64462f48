"""Data governance through the gateway: the merged data catalogue, every component's audit
trail for compliance officers, households, re-tiering after a threshold change, dormancy."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.components import COMPONENTS, spec_of
from services.kit.clock import now
from tests.support import eventually, new_customer, once_customer_known

REASON = {"X-Access-Reason": "periodic review"}


@pytest.fixture
def gateway(system) -> str:
    return system.url("gateway")


async def create(client, system, gateway: str, **fields) -> dict:
    answer = await client.post(f"{gateway}/api/v1/customers", json=new_customer(**fields),
                               headers=system.headers("admin"))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_the_catalogue_route_serves_every_column_of_every_component(system, client, gateway):
    answer = await client.get(f"{gateway}/api/v1/data-declarations", headers=system.headers("service_agent"))
    assert answer.status_code == 200, answer.text
    served = {(f["component"], f["table"], f["name"]) for f in answer.json()}
    for component in COMPONENTS:
        metadata = spec_of(component).metadata
        stored = {(component, t.name, c.name) for t in metadata.sorted_tables for c in t.columns}
        assert stored <= served, sorted(stored - served)
    names = {f["name"]: f for f in answer.json() if f["table"] == "customers" and f["component"] == "profile"}
    assert names["name"]["name"] == "name"  # a catalogue entry is not a customer record: nothing masked


async def test_compliance_officers_read_the_gateways_and_consents_trails_with_the_same_filters(system, client, gateway):
    customer = await create(client, system, gateway)
    granted = await once_customer_known(lambda: client.post(
        f"{gateway}/api/v1/consents", headers=system.headers("customer", customer["id"]),
        json={"customer_id": customer["id"], "recipient": "bank-marketing", "purpose": "marketing",
              "data_categories": ["basic"], "channel": "mobile"}))
    assert granted.status_code == 201, granted.text
    officer = system.headers("compliance_officer", "officer-9", **REASON)

    async def trail(which: str) -> list[dict]:
        answer = await client.get(f"{gateway}/api/v1/audit-records/{which}",
                                  params={"customer_id": customer["id"], "limit": 50}, headers=officer)
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]

    consent_rows = await trail("consent")
    assert [(r["action"], r["actor"]) for r in consent_rows] == [("consent.granted", customer["id"])]
    gateway_rows = await trail("gateway")
    assert ("POST /api/v1/customers", "user-admin") in {(r["action"], r["actor"]) for r in gateway_rows}
    assert ("POST /api/v1/consents", customer["id"]) in {(r["action"], r["actor"]) for r in gateway_rows}
    assert all(r["customer_id"] == customer["id"] for r in gateway_rows)

    # Reading a trail is itself an access to the customer's data: recorded in the gateway's own.
    mine = await client.get(f"{gateway}/api/v1/audit-records/gateway",
                            params={"actor": "officer-9", "since": (now() - timedelta(minutes=5)).isoformat()},
                            headers=officer)
    assert {r["action"] for r in mine.json()["items"]} >= {"GET /api/v1/audit-records/consent"}
    bad = await client.get(f"{gateway}/api/v1/audit-records/gateway", params={"limit": 0}, headers=officer)
    assert bad.status_code == 422, bad.text
    for role in ("admin", "relationship_manager", "customer"):
        refused = await client.get(f"{gateway}/api/v1/audit-records/gateway",
                                   headers=system.headers(role, customer["id"] if role == "customer" else None))
        assert refused.status_code == 403, refused.text


async def test_a_household_shows_its_members_combined_assets_through_the_gateway(system, client, gateway):
    manager = system.headers("relationship_manager", "rm-house")
    members = []
    for assets in ("300000.00", "45000.25"):
        answer = await client.post(f"{gateway}/api/v1/customers", headers=manager,
                                   json=new_customer(assets_under_management=assets))
        assert answer.status_code == 201, answer.text
        members.append(answer.json()["id"])
    joined = await client.post(f"{gateway}/api/v1/customers/{members[0]}/household", headers=manager,
                               json={"members": [members[1]]})
    assert joined.status_code == 200, joined.text
    read = await client.get(f"{gateway}/api/v1/customers/{members[1]}/household",
                            headers=system.headers("customer", members[1]))
    assert read.status_code == 200, read.text
    assert read.json()["combined_assets"] == "345000.25"
    shown = {m["customer_id"]: m["assets_under_management"] for m in read.json()["members"]}
    assert shown == {members[0]: None, members[1]: "45000.25"}  # a customer sees only their own figures
    other = await client.get(f"{gateway}/api/v1/customers/{members[1]}/household",
                             headers=system.headers("customer", str(uuid.uuid4())))
    assert other.status_code == 404  # another customer
    stranger = await client.get(f"{gateway}/api/v1/customers/{members[1]}/household",
                                headers=system.headers("relationship_manager", "rm-elsewhere"))
    assert stranger.status_code == 404  # another manager
    refused = await client.post(f"{gateway}/api/v1/customers/{members[1]}/household",
                                headers=system.headers("service_agent"), json={"members": [members[0]]})
    assert refused.status_code == 403  # a role that must not write


async def test_lowering_a_tier_threshold_re_tiers_existing_customers_with_history(system, client, gateway):
    customer = await create(client, system, gateway, assets_under_management="420000.00")
    assert customer["tier"] == "mass"
    system.restart_component("profile", PROFILE_TIER_AFFLUENT_ASSETS="400000")
    try:
        # The restarted service's `retier` job moves every customer the new threshold concerns.
        async def retiered():
            read = await client.get(f"{gateway}/api/v1/customers/{customer['id']}", headers=system.headers("admin"))
            assert read.json()["tier"] == "affluent"

        await eventually(retiered)
        history = await client.get(f"{gateway}/api/v1/customers/{customer['id']}/tier-history",
                                   headers=system.headers("admin"))
        assert [(h["from_tier"], h["to_tier"]) for h in history.json()] == [(None, "mass"), ("mass", "affluent")]
    finally:
        system.env.pop("PROFILE_TIER_AFFLUENT_ASSETS")
        system.restart_component("profile")  # its retier job restores the default thresholds' tiers


async def test_an_inactive_customer_becomes_dormant(system, client, gateway):
    customer = await create(client, system, gateway)
    for stage in ("onboarding", "active"):
        moved = await client.post(f"{gateway}/api/v1/customers/{customer['id']}/lifecycle",
                                  json={"stage": stage, "reason": "kyc done"}, headers=system.headers("admin"))
        assert moved.status_code == 200, moved.text
    engine = create_async_engine(system.database_urls["profile"])
    try:
        async with engine.begin() as connection:  # a year and a day without any activity
            await connection.execute(sa.text("UPDATE customers SET last_activity_at = :at WHERE id = :id"),
                                     {"at": now() - timedelta(days=366), "id": customer["id"]})
    finally:
        await engine.dispose()
    ran = system.run_cli("run-job", "profile", "mark-dormant")
    assert " 0 handled" not in ran.stdout, ran.stdout
    read = await client.get(f"{gateway}/api/v1/customers/{customer['id']}", headers=system.headers("admin"))
    assert read.json()["lifecycle_stage"] == "dormant"
    history = await client.get(f"{gateway}/api/v1/customers/{customer['id']}/lifecycle",
                               headers=system.headers("admin"))
    assert history.json()[-1]["reason"] == "no activity for 365 days"
