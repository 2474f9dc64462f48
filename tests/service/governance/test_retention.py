"""Retention in every component (R2.2): each data category expires at its configured limit,
counted on the controllable clock; a legal hold stops it; published outbox and handled inbox
rows are purged after the safe period; a consumer that missed an erasure catches up."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from events.contracts import (
    CustomerCreatedV1,
    CustomerLegalHoldPlacedV1,
    CustomerLegalHoldReleasedV1,
    new_event,
)
from services.kit import clock
from services.kit.clock import now
from tests.service.feedback.conftest import case_body, known_customer
from tests.support import new_customer

DAY = timedelta(days=1)
BEHAVIOUR, BUSINESS, BASIC = 730, 1825, 1825  # the configured defaults (services/kit/retention.py)


def later(days: int):
    return clock.shifted(timedelta(days=days))


async def count(svc, table: str, column: str, value: str) -> int:
    t = svc.spec.metadata.tables[table]
    async with svc.engine.connect() as connection:
        return await connection.scalar(sa.select(sa.func.count()).select_from(t).where(t.c[column] == value))


async def hold(svc, customer_id: str) -> None:
    await svc.deliver(
        new_event(
            "customer.legal_hold_placed",
            CustomerLegalHoldPlacedV1(customer_id=customer_id, reference="CASE-1"),
            source="profile",
        )
    )


async def release(svc, customer_id: str) -> None:
    await svc.deliver(
        new_event(
            "customer.legal_hold_released", CustomerLegalHoldReleasedV1(customer_id=customer_id), source="profile"
        )
    )


def customer_created(customer_id: str):
    return new_event(
        "customer.created",
        CustomerCreatedV1(customer_id=customer_id, risk_level="C3", assets_under_management="1000.00"),
        source="profile",
    )


async def test_feedback_expires_behaviour_then_business_data_but_not_a_held_customers(service):
    feedback = await service("feedback")
    expiring, held = await known_customer(feedback), await known_customer(feedback)
    for customer_id in (expiring, held):
        async with feedback.client("customer", customer_id, customer_scope=customer_id) as http:
            answer = await http.post(
                "/api/v1/feedback",
                json={
                    "customer_id": customer_id,
                    "survey": "nps",
                    "score": 3,
                    "channel": "web",
                    "comment": "slow branch",
                },
            )
            assert answer.status_code == 201, answer.text
            answer = await http.post(
                "/api/v1/complaints",
                json={"customer_id": customer_id, "category": "fees", "channel": "web", "description": "charged twice"},
            )
            assert answer.status_code == 201, answer.text
    await hold(feedback, held)

    with later(BEHAVIOUR - 1):
        await feedback.run_job("apply-retention")
    assert await count(feedback, "feedback", "customer_id", expiring) == 1  # not yet

    with later(BEHAVIOUR + 1):
        assert await feedback.run_job("apply-retention") >= 1
    assert await count(feedback, "feedback", "customer_id", expiring) == 0  # behaviour: survey answers gone
    # business: kept longer (the complaint, and the follow-up the NPS 3 detractor answer opened)
    assert await count(feedback, "cases", "customer_id", expiring) == 2

    with later(BUSINESS + 1):
        await feedback.run_job("apply-retention")
    assert await count(feedback, "cases", "customer_id", expiring) == 0
    assert await count(feedback, "feedback", "customer_id", held) == 1  # the hold stops both
    assert await count(feedback, "cases", "customer_id", held) == 2

    await release(feedback, held)
    with later(BUSINESS + 1):
        await feedback.run_job("apply-retention")
    assert await count(feedback, "feedback", "customer_id", held) == 0
    assert await count(feedback, "cases", "customer_id", held) == 0


async def test_a_case_reopened_later_keeps_its_original_until_it_expires_itself(service):
    feedback = await service("feedback")
    customer_id = await known_customer(feedback)
    async with feedback.client("service_agent", "agent-r") as agent:
        original = (await agent.post("/api/v1/cases", json=case_body(customer_id))).json()["id"]
        for action, step in (
            ("acknowledge", {}),
            ("resolve", {"root_cause": "fee_error"}),
            ("follow-up", {"note": "Refund confirmed"}),
            ("close", {"root_cause": "fee_error"}),
        ):
            assert (await agent.post(f"/api/v1/cases/{original}/{action}", json=step)).status_code == 200
        with later(200):
            reopened = await agent.post(f"/api/v1/cases/{original}/reopen", json={"note": "Charged again"})
            assert reopened.status_code == 201, reopened.text

    with later(BUSINESS + 1):  # the original is due, the reopening is not
        await feedback.run_job("apply-retention")
    assert await count(feedback, "cases", "customer_id", customer_id) == 2
    with later(BUSINESS + 201):  # both due: the reopening goes first, then the original
        await feedback.run_job("apply-retention")
    assert await count(feedback, "cases", "customer_id", customer_id) == 0


@pytest.mark.parametrize(
    "component, table, limit",
    [
        ("churn", "customer_features", BEHAVIOUR),  # features are behavioural data
        ("recommendation", "customers", BUSINESS),  # the read model: assets and risk level
    ],
)
async def test_read_models_fed_by_events_expire_at_their_category_limit_unless_held(service, component, table, limit):
    svc = await service(component)
    expiring, held = str(uuid.uuid4()), str(uuid.uuid4())
    for customer_id in (expiring, held):
        await svc.deliver(customer_created(customer_id))
    await hold(svc, held)

    with later(limit - 1):
        await svc.run_job("apply-retention")
    assert await count(svc, table, "customer_id", expiring) == 1
    with later(limit + 1):
        await svc.run_job("apply-retention")
    assert await count(svc, table, "customer_id", expiring) == 0
    assert await count(svc, table, "customer_id", held) == 1


async def test_ended_consents_expire_with_their_history_active_and_held_ones_stay(service):
    consent = await service("consent")
    ended, active, held = (str(uuid.uuid4()) for _ in range(3))
    ids = {}
    for customer_id in (ended, active, held):
        await consent.know_customer(customer_id)
        async with consent.client("customer", customer_id, customer_scope=customer_id) as http:
            answer = await http.post(
                "/api/v1/consents",
                json={
                    "customer_id": customer_id,
                    "recipient": "bank-marketing",
                    "purpose": "marketing",
                    "data_categories": ["basic"],
                    "channel": "mobile",
                },
            )
            assert answer.status_code == 201, answer.text
            ids[customer_id] = answer.json()["id"]
            if customer_id != active:
                assert (await http.post(f"/api/v1/consents/{ids[customer_id]}/revoke")).status_code == 200
    await hold(consent, held)

    with later(BUSINESS - 1):
        await consent.run_job("apply-retention")
    assert await count(consent, "consents", "customer_id", ended) == 1
    with later(BUSINESS + 1):
        await consent.run_job("apply-retention")
    assert await count(consent, "consents", "customer_id", ended) == 0
    assert await count(consent, "consent_history", "customer_id", ended) == 0
    assert await count(consent, "consents", "customer_id", active) == 1  # still in force: proof kept
    assert await count(consent, "consents", "customer_id", held) == 1


async def _customer(http, *stages: str) -> str:
    answer = await http.post("/api/v1/customers", json=new_customer())
    assert answer.status_code == 201, answer.text
    customer_id = answer.json()["id"]
    for stage in stages:
        moved = await http.post(f"/api/v1/customers/{customer_id}/lifecycle", json={"stage": stage, "reason": "asked"})
        assert moved.status_code == 200, moved.text
    return customer_id


async def test_profile_expires_prospects_leavers_and_behaviour_data_unless_held(service):
    profile = await service("profile")
    async with profile.client("admin", "admin-1") as http:
        prospect = await _customer(http)
        customer = await _customer(http, "onboarding", "active")
        leaver = await _customer(http, "onboarding", "churned")
        held = await _customer(http, "onboarding", "churned")
    async with profile.client("compliance_officer", "co-1", reason="litigation") as http:
        placed = await http.put(f"/api/v1/customers/{held}/legal-hold", json={"reference": "CASE-7"})
        assert placed.status_code == 200, placed.text
        refused = await http.post(f"/api/v1/customers/{held}/erasure", json={"reason": "customer asked"})
        assert refused.status_code == 409 and "legal hold" in refused.json()["detail"], refused.text
    [announced] = await profile.published("customer.legal_hold_placed", customer_id=held)
    assert announced.payload == {"customer_id": held, "reference": "CASE-7"}

    async def erased(customer_id: str) -> bool:
        async with profile.client("admin", "admin-1") as http:
            return (await http.get(f"/api/v1/customers/{customer_id}")).status_code == 410

    async def reasons(customer_id: str) -> list:
        t = profile.spec.metadata.tables["lifecycle_history"]
        async with profile.engine.connect() as connection:
            return list(await connection.scalars(sa.select(t.c.reason).where(t.c.customer_id == customer_id)))

    with later(365 + 1):  # prospects are kept a year (PROFILE_PROSPECT_RETENTION_DAYS)
        await profile.run_job("apply-retention")
    assert await erased(prospect) and not await erased(customer) and not await erased(leaver)

    with later(BEHAVIOUR + 1):  # behaviour: the reasons written on lifecycle moves
        await profile.run_job("apply-retention")
    assert set(await reasons(customer)) == {None} and "asked" in await reasons(held)

    with later(BASIC + 1):  # basic: leavers erased five years after the relationship ended
        await profile.run_job("apply-retention")
        assert await count(profile, "tier_history", "customer_id", customer) == 0  # business: tier history
    assert await erased(leaver) and not await erased(customer) and not await erased(held)
    assert await count(profile, "tier_history", "customer_id", held) == 1
    assert [e.customer_id for e in await profile.published("customer.erased") if e.customer_id in (leaver, held)] == [
        leaver
    ]

    async with profile.client("compliance_officer", "co-1", reason="case closed") as http:
        assert (await http.delete(f"/api/v1/customers/{held}/legal-hold")).status_code == 204
        assert (await http.delete(f"/api/v1/customers/{held}/legal-hold")).status_code == 404
    assert await profile.published("customer.legal_hold_released", customer_id=held)
    with later(BASIC + 1):
        await profile.run_job("apply-retention")
    assert await erased(held)


async def test_a_consumer_that_missed_an_erasure_applies_it_when_profile_announces_it_again(service):
    profile = await service("profile")
    churn = await service("churn")
    async with profile.client("admin", "admin-1") as http:
        customer_id = await _customer(http, "onboarding")
        [created] = await profile.published("customer.created", customer_id=customer_id)
        await churn.deliver(created)
        assert (
            await http.post(f"/api/v1/customers/{customer_id}/erasure", json={"reason": "asked"})
        ).status_code == 202
    # Churn was away longer than the topic keeps messages: the first announcement never reached it.
    assert len(await profile.published("customer.erased", customer_id=customer_id)) == 1
    assert await count(churn, "customer_features", "customer_id", customer_id) == 1

    await profile.run_job("reannounce-erasures")
    assert len(await profile.published("customer.erased", customer_id=customer_id)) == 1  # too soon to repeat
    with later(3 + 1):
        await profile.run_job("reannounce-erasures")
    announcements = await profile.published("customer.erased", customer_id=customer_id)
    assert [e.payload["replayed"] for e in announcements] == [False, True]
    await churn.deliver(announcements[-1])
    assert await count(churn, "customer_features", "customer_id", customer_id) == 0

    with later(90 + 1):  # announced for 90 days at most
        await profile.run_job("reannounce-erasures")
    assert len(await profile.published("customer.erased", customer_id=customer_id)) == 2


async def test_published_outbox_and_handled_inbox_rows_are_purged_after_the_safe_period(service):
    churn = await service("churn")
    customer_id = str(uuid.uuid4())
    event = customer_created(customer_id)
    await churn.deliver(event)
    inbox = churn.spec.inbox
    outbox = churn.spec.outbox.table
    async with churn.engine.begin() as connection:
        await connection.execute(
            outbox.insert().values(
                id=str(uuid.uuid4()),
                aggregatetype="churn",
                aggregateid=customer_id,
                type="churn.warning.v1",
                payload="{}",
                created_at=now(),
                sent_at=now(),
            )
        )
        await connection.execute(
            outbox.insert().values(
                id=str(uuid.uuid4()),
                aggregatetype="churn",
                aggregateid=customer_id,
                type="churn.warning.v1",
                payload="{}",
                created_at=now(),
                sent_at=None,
            )
        )

    async def rows():
        async with churn.engine.connect() as connection:
            return (
                await connection.scalar(
                    sa.select(sa.func.count()).select_from(inbox).where(inbox.c.event_id == str(event.id))
                ),
                await connection.scalar(
                    sa.select(sa.func.count())
                    .select_from(outbox)
                    .where(outbox.c.aggregateid == customer_id, outbox.c.sent_at.is_not(None))
                ),
                await connection.scalar(
                    sa.select(sa.func.count())
                    .select_from(outbox)
                    .where(outbox.c.aggregateid == customer_id, outbox.c.sent_at.is_(None))
                ),
            )

    with later(13):
        await churn.run_job("purge-messaging")
    assert await rows() == (1, 1, 1)
    with later(15):
        await churn.run_job("purge-messaging")
    assert await rows() == (0, 0, 1)  # an unsent event is never purged
    async with churn.engine.begin() as connection:
        await connection.execute(outbox.delete().where(outbox.c.aggregateid == customer_id))
