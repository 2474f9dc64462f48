"""Segmentation (R1.1, R4.1) in the profile service: households with combined assets, tiers from
assets, holdings and activity re-evaluated when thresholds change, dormancy from inactivity,
dedicated advisors for high-net-worth customers, reviews at the plan's cadence."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from events.contracts import FeedbackReceivedV1, new_event
from events.contracts.terms import Tier
from services.kit import clock
from services.profile.tiers import TierPolicy, tier_for
from tests.support import new_customer

ADMIN = ("admin", "admin-1")


async def create(http, **fields) -> dict:
    answer = await http.post("/api/v1/customers", json=new_customer(**fields))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def move(http, customer_id: str, *stages: str) -> None:
    for stage in stages:
        answer = await http.post(f"/api/v1/customers/{customer_id}/lifecycle", json={"stage": stage, "reason": "test"})
        assert answer.status_code == 200, answer.text


async def test_a_household_shows_its_members_and_their_combined_assets(service):
    profile = await service("profile")
    async with profile.client("relationship_manager", "rm-h1") as mine:
        head = await create(mine, assets_under_management="1000000.00")
        spouse = await create(mine, assets_under_management="250000.50")
    async with profile.client("relationship_manager", "rm-h2") as other:
        child = await create(other, assets_under_management="10000.00")
        assert (
            await other.post(f"/api/v1/customers/{child['id']}/household", json={"members": [head["id"]]})
        ).status_code == 404  # not their customer
    async with profile.client(*ADMIN) as admin:
        joined = await admin.post(
            f"/api/v1/customers/{head['id']}/household", json={"members": [spouse["id"], child["id"]]}
        )
        assert joined.status_code == 200, joined.text
        assert joined.json()["combined_assets"] == "1260000.50"
        again = await admin.post(f"/api/v1/customers/{spouse['id']}/household", json={"members": [child["id"]]})
        assert again.status_code == 200 and again.json()["id"] == joined.json()["id"]  # the same household

    async with profile.client("relationship_manager", "rm-h1") as mine:
        seen = (await mine.get(f"/api/v1/customers/{spouse['id']}/household")).json()
    assert seen["combined_assets"] == "1260000.50"
    members = {m["customer_id"]: m for m in seen["members"]}
    assert members[head["id"]]["assets_under_management"] == "1000000.00"
    assert members[child["id"]]["assets_under_management"] is None  # another manager's customer
    async with profile.client("relationship_manager", "rm-h3") as stranger:
        assert (await stranger.get(f"/api/v1/customers/{head['id']}/household")).status_code == 404

    async with profile.client(*ADMIN) as admin:
        assert (
            await admin.post(f"/api/v1/customers/{child['id']}/erasure", json={"reason": "asked"})
        ).status_code == 202
        after = (await admin.get(f"/api/v1/customers/{head['id']}/household")).json()
        assert after["combined_assets"] == "1250000.50" and len(after["members"]) == 2
        assert (await admin.delete(f"/api/v1/customers/{spouse['id']}/household")).status_code == 204
        assert (await admin.get(f"/api/v1/customers/{head['id']}/household")).status_code == 404  # one left: ended


async def test_lowering_a_threshold_re_tiers_existing_customers_with_history(service):
    profile = await service("profile")
    async with profile.client(*ADMIN) as admin:
        customer = await create(admin, assets_under_management="400000.00")
    assert customer["tier"] == "mass"

    lowered = await service("profile", PROFILE_TIER_AFFLUENT_ASSETS="300000")
    assert await lowered.run_job("retier") >= 1
    async with lowered.client(*ADMIN) as admin:
        assert (await admin.get(f"/api/v1/customers/{customer['id']}")).json()["tier"] == "affluent"
        history = (await admin.get(f"/api/v1/customers/{customer['id']}/tier-history")).json()
    assert [(h["from_tier"], h["to_tier"]) for h in history] == [(None, "mass"), ("mass", "affluent")]
    async with lowered.client("relationship_manager", "rm-other") as stranger:
        assert (await stranger.get(f"/api/v1/customers/{customer['id']}/tier-history")).status_code == 404
    [event] = await lowered.published("customer.tier_changed", customer_id=customer["id"])
    assert event.payload == {"customer_id": customer["id"], "previous_tier": "mass", "tier": "affluent"}
    assert await lowered.run_job("retier") == 0  # nothing left to move


async def test_engagement_lifts_a_tier_while_the_customer_is_active(service):
    profile = await service("profile")
    async with profile.client(*ADMIN) as admin:
        engaged = await create(admin, assets_under_management="100000.00", product_holdings=5)
        few = await create(admin, assets_under_management="100000.00", product_holdings=1)
    assert (engaged["tier"], few["tier"]) == ("affluent", "mass")
    with clock.shifted(timedelta(days=91)):  # no activity within the 90-day window
        await profile.run_job("retier")
    async with profile.client(*ADMIN) as admin:
        assert (await admin.get(f"/api/v1/customers/{engaged['id']}")).json()["tier"] == "mass"
        assert (await admin.get(f"/api/v1/customers/{few['id']}")).json()["tier"] == "mass"

    with clock.shifted(timedelta(days=92)):  # the customer is heard of again: engaged once more
        feedback = new_event(
            "feedback.received",
            FeedbackReceivedV1(
                feedback_id=str(uuid.uuid4()), customer_id=engaged["id"], survey="csat", score=5, channel="web"
            ),
            source="feedback",
        )
        await profile.deliver(feedback.model_copy(update={"time": clock.now()}))
        await profile.run_job("retier")
    async with profile.client(*ADMIN) as admin:
        history = (await admin.get(f"/api/v1/customers/{engaged['id']}/tier-history")).json()
    assert [h["to_tier"] for h in history] == ["affluent", "mass", "affluent"]


async def test_inactive_customers_become_dormant_and_activity_brings_them_back(service):
    profile = await service("profile")
    async with profile.client(*ADMIN) as admin:
        customer, second = await create(admin), await create(admin)
        for moved in (customer, second):
            await move(admin, moved["id"], "onboarding", "active")
    with clock.shifted(timedelta(days=364)):
        await profile.run_job("mark-dormant")
    async with profile.client(*ADMIN) as admin:
        assert (await admin.get(f"/api/v1/customers/{customer['id']}")).json()["lifecycle_stage"] == "active"
    with clock.shifted(timedelta(days=366)):
        assert await profile.run_job("mark-dormant") >= 2  # the two in one batch
    async with profile.client(*ADMIN) as admin:
        for dormant in (customer, second):
            record = (await admin.get(f"/api/v1/customers/{dormant['id']}")).json()
            assert record["lifecycle_stage"] == "dormant" and record["version"] == dormant["version"] + 3
            history = (await admin.get(f"/api/v1/customers/{dormant['id']}/lifecycle")).json()
            assert (history[-1]["from_stage"], history[-1]["to_stage"]) == ("active", "dormant")
            changes = await profile.published("customer.lifecycle_changed", customer_id=dormant["id"])
            assert changes[-1].payload == {"customer_id": dormant["id"], "previous_stage": "active", "stage": "dormant"}
            async with profile.client("compliance_officer", "co-1") as officer:
                trail = (await officer.get("/api/v1/audit-records", params={"customer_id": dormant["id"]})).json()
            assert ("lifecycle", "job:mark-dormant") in {(r["action"], r["actor"]) for r in trail["items"]}

    await profile.deliver(
        new_event(
            "feedback.received",
            FeedbackReceivedV1(
                feedback_id=str(uuid.uuid4()), customer_id=customer["id"], survey="nps", score=9, channel="mobile"
            ),
            source="feedback",
        )
    )
    async with profile.client(*ADMIN) as admin:
        assert (await admin.get(f"/api/v1/customers/{customer['id']}")).json()["lifecycle_stage"] == "active"


async def test_high_net_worth_customers_get_a_dedicated_advisor_and_reviews_at_the_plans_cadence(service):
    profile = await service("profile", PROFILE_PRIVATE_BANKING_ADVISORS='["pb-1", "pb-2"]')
    async with profile.client("relationship_manager", "rm-9") as manager:
        first = await create(manager, assets_under_management="7000000.00")
        second = await create(manager, assets_under_management="8000000.00")
        ordinary = await create(manager, assets_under_management="60000.00")
    advisors = {first["relationship_manager_id"], second["relationship_manager_id"]}
    assert advisors == {"pb-1", "pb-2"} and ordinary["relationship_manager_id"] == "rm-9"
    [changed] = await profile.published("customer.manager_changed", customer_id=first["id"])
    assert changed.payload == {
        "customer_id": first["id"],
        "previous_manager_id": "rm-9",
        "manager_id": first["relationship_manager_id"],
    }

    async with profile.client(*ADMIN) as admin:
        await move(admin, first["id"], "onboarding", "active")
        await move(admin, ordinary["id"], "onboarding", "active")
    await profile.run_job("schedule-reviews")
    assert await profile.run_job("schedule-reviews") == 0  # one open review each
    advisor = first["relationship_manager_id"]
    async with profile.client("relationship_manager", advisor) as own:
        [review] = (await own.get(f"/api/v1/customers/{first['id']}/service-reviews")).json()
        assert review["tier"] == "high_net_worth" and review["assigned_to"] == advisor
        created = first["created_at"][:10]
        assert review["due_on"][:7] > created[:7]  # three months on (private banking plan)
        done = await own.post(f"/api/v1/customers/{first['id']}/service-reviews/{review['id']}/complete")
        assert done.status_code == 200 and done.json()["done_by"] == advisor
        assert (
            await own.post(f"/api/v1/customers/{first['id']}/service-reviews/{review['id']}/complete")
        ).status_code == 409
    async with profile.client("relationship_manager", "rm-9") as manager:
        [yearly] = (await manager.get(f"/api/v1/customers/{ordinary['id']}/service-reviews")).json()
        assert (await manager.get(f"/api/v1/customers/{first['id']}/service-reviews")).status_code == 404
    assert int(yearly["due_on"][:4]) == int(ordinary["created_at"][:4]) + 1  # mass: yearly
    with clock.shifted(timedelta(days=1)):
        await profile.run_job("schedule-reviews")
    async with profile.client("relationship_manager", advisor) as own:
        reviews = (await own.get(f"/api/v1/customers/{first['id']}/service-reviews")).json()
    assert len(reviews) == 2 and reviews[1]["done_at"] is None


async def test_each_tier_is_reviewed_at_its_plans_cadence_from_the_last_review(service):
    """The plans' cadences exactly (R4.1): 3 months for high net worth, 6 for affluent, 12 for
    mass, from the customer's creation and then from the last review done; a month-end creation
    falls due at the end of a shorter month."""
    profile = await service("profile")
    with clock.frozen_at(datetime(2019, 1, 31, 10, tzinfo=UTC)):
        async with profile.client("relationship_manager", "rm-cadence") as manager:
            customers = {
                tier: await create(manager, assets_under_management=assets)
                for tier, assets in (("high_net_worth", "7000000.00"), ("affluent", "600000.00"), ("mass", "60000.00"))
            }
        async with profile.client(*ADMIN) as admin:
            for customer in customers.values():
                await move(admin, customer["id"], "onboarding")
        await profile.run_job("schedule-reviews")

    async def open_review(manager, customer_id: str) -> dict:
        reviews = (await manager.get(f"/api/v1/customers/{customer_id}/service-reviews")).json()
        return next(r for r in reviews if r["done_at"] is None)

    async with profile.client("relationship_manager", "rm-cadence") as manager:
        due = {tier: (await open_review(manager, c["id"]))["due_on"] for tier, c in customers.items()}
        assert due == {"high_net_worth": "2019-04-30", "affluent": "2019-07-31", "mass": "2020-01-31"}
        with clock.frozen_at(datetime(2019, 5, 10, 9, tzinfo=UTC)):
            rich = customers["high_net_worth"]["id"]
            review = await open_review(manager, rich)
            done = await manager.post(f"/api/v1/customers/{rich}/service-reviews/{review['id']}/complete")
            assert done.status_code == 200, done.text
            await profile.run_job("schedule-reviews")
        assert (await open_review(manager, rich))["due_on"] == "2019-08-10"


async def test_reassigning_the_manager_is_announced(service):
    profile = await service("profile")
    async with profile.client(*ADMIN) as admin:
        customer = await create(admin)
        answer = await admin.put(
            f"/api/v1/customers/{customer['id']}/relationship-manager", json={"relationship_manager_id": "rm-new"}
        )
        assert answer.status_code == 200, answer.text
        await admin.put(
            f"/api/v1/customers/{customer['id']}/relationship-manager", json={"relationship_manager_id": "rm-new"}
        )  # no change: no event
    [event] = await profile.published("customer.manager_changed", customer_id=customer["id"])
    assert event.payload == {"customer_id": customer["id"], "previous_manager_id": None, "manager_id": "rm-new"}


@pytest.mark.parametrize(
    "assets, holdings, active, expected",
    [
        ("7000000", 0, False, Tier.HIGH_NET_WORTH),
        ("7000000", 9, True, Tier.HIGH_NET_WORTH),
        ("600000", 9, True, Tier.AFFLUENT),
        ("100000", 5, True, Tier.AFFLUENT),
        ("100000", 5, False, Tier.MASS),
        ("100000", 4, True, Tier.MASS),
        ("0", 5, True, Tier.AFFLUENT),
        ("0", 1, False, Tier.MASS),
        ("0", 0, True, Tier.POTENTIAL),
    ],
)
async def test_the_sql_rule_the_job_uses_equals_the_python_rule(service, assets, holdings, active, expected):
    import sqlalchemy as sa

    from services.kit.clock import now
    from services.kit.db import UTCDateTime
    from services.profile.tiers import tier_sql

    profile = await service("profile")
    policy = TierPolicy(
        hnw_assets=Decimal("6000000"),
        affluent_assets=Decimal("500000"),
        mass_assets=Decimal("50000"),
        uplift_holdings=5,
        activity_window_days=90,
    )
    moment = now()
    last = moment - timedelta(days=10 if active else 100)
    assert tier_for(Decimal(assets), holdings, last, policy=policy, moment=moment) == expected
    expression = tier_sql(
        sa.literal(Decimal(assets), sa.Numeric(18, 2)),
        sa.literal(holdings),
        sa.literal(last, UTCDateTime()),
        policy=policy,
        moment=moment,
    )
    async with profile.engine.connect() as connection:
        assert await connection.scalar(sa.select(expression)) == expected.value
