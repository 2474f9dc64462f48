"""The loyalty points ledger on PostgreSQL: earning rules, idempotency by source, concurrent
redemptions that never overspend, expiry as a scheduled job."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from events.contracts import CustomerTierChangedV1, FeedbackReceivedV1, TransactionPostedV1, new_event
from services.churn.points import ledger
from services.churn.points.models import PointsAccount
from services.kit import clock


def purchase(customer_id: str, amount: str):
    return new_event(
        "transaction.posted",
        TransactionPostedV1(
            customer_id=customer_id,
            transaction_id=str(uuid.uuid4()),
            account_id="acc-1",
            amount=Decimal(amount),
            direction="debit",
            posted_at=datetime.now(UTC),
        ),
        source="corebanking",
    )


async def balance(churn, customer_id: str, role: str = "customer") -> int:
    async with churn.client(role, customer_id if role == "customer" else "x") as http:
        answer = await http.get(f"/api/v1/customers/{customer_id}/points")
    assert answer.status_code == 200, answer.text
    return answer.json()["balance"]


async def grant(churn, customer_id: str, points: int) -> None:
    async with churn.client("admin") as http:
        answer = await http.post(
            f"/api/v1/customers/{customer_id}/points/adjustments",
            json={"points": points, "request_id": str(uuid.uuid4()), "reason": "welcome"},
        )
    assert answer.status_code == 201, answer.text


async def test_points_earned_by_tier_and_behaviour_and_twice_from_one_event_count_once(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path))
    customer_id = str(uuid.uuid4())
    await churn.deliver(
        new_event(
            "customer.tier_changed",
            CustomerTierChangedV1(customer_id=customer_id, previous_tier="mass", tier="affluent"),
            source="profile",
        )
    )
    event = purchase(customer_id, "250.00")  # 2 x 100 spent, affluent multiplier 2: 4 points
    await churn.deliver(event)
    await churn.deliver(event)  # redelivered: the inbox skips it
    async with churn.sessions() as session, session.begin():  # replayed past the inbox: the ledger skips it
        earned = await ledger.earn(
            session, customer_id=customer_id, points=4, source_id=f"event:{event.id}", reason="spending", valid_days=365
        )
    assert earned is not None  # points were due
    _, created = earned
    assert created is False
    await churn.deliver(
        new_event(
            "feedback.received",
            FeedbackReceivedV1(
                feedback_id=str(uuid.uuid4()), customer_id=customer_id, survey="csat", score=5, channel="web"
            ),
            source="feedback",
        )
    )
    assert await balance(churn, customer_id) == 4 + 20
    async with churn.client("customer", customer_id) as http:
        history = (await http.get(f"/api/v1/customers/{customer_id}/points/history")).json()
    assert [(m["kind"], m["points"], m["reason"]) for m in history] == [
        ("earn", 20, "survey_answered"),
        ("earn", 4, "spending"),
    ]


async def test_a_redemption_retried_with_its_request_id_redeems_once(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path))
    customer_id = str(uuid.uuid4())
    await grant(churn, customer_id, 100)
    body = {"points": 30, "request_id": str(uuid.uuid4())}
    async with churn.client("customer", customer_id) as http:
        first = await http.post(f"/api/v1/customers/{customer_id}/points/redemptions", json=body)
        second = await http.post(f"/api/v1/customers/{customer_id}/points/redemptions", json=body)
        other = await http.post(f"/api/v1/customers/{customer_id}/points/redemptions", json={**body, "points": 31})
        too_much = await http.post(
            f"/api/v1/customers/{customer_id}/points/redemptions", json={"points": 71, "request_id": str(uuid.uuid4())}
        )
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    assert other.status_code == 409
    assert too_much.status_code == 409 and too_much.json()["balance"] == 70
    assert await balance(churn, customer_id) == 70


async def test_concurrent_redemptions_never_overspend(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path))
    customer_id = str(uuid.uuid4())
    await grant(churn, customer_id, 100)

    async def redeem(http) -> int:
        answer = await http.post(
            f"/api/v1/customers/{customer_id}/points/redemptions", json={"points": 30, "request_id": str(uuid.uuid4())}
        )
        return answer.status_code

    clients = [churn.client("customer", customer_id) for _ in range(8)]
    try:
        statuses = await asyncio.gather(*(redeem(http) for http in clients))
    finally:
        await asyncio.gather(*(http.aclose() for http in clients))
    assert sorted(statuses) == [201] * 3 + [409] * 5
    assert await balance(churn, customer_id) == 10


async def test_the_balance_cannot_go_negative_even_bypassing_the_ledger(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path))
    customer_id = str(uuid.uuid4())
    await grant(churn, customer_id, 5)
    async with churn.sessions() as session:
        try:
            async with session.begin():
                await session.execute(
                    sa.update(PointsAccount).where(PointsAccount.customer_id == customer_id).values(balance=-1)
                )
        except sa.exc.IntegrityError as error:
            assert "balance_not_negative" in str(error)
        else:
            raise AssertionError("the CHECK constraint let a negative balance in")


async def test_expiry_is_a_scheduled_movement_of_unspent_old_points(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path))
    customer_id = str(uuid.uuid4())
    start = datetime(2027, 1, 1, tzinfo=UTC)
    with clock.frozen_at(start):
        await grant(churn, customer_id, 100)  # lapses after 365 days
    with clock.frozen_at(start + timedelta(days=200)):
        await grant(churn, customer_id, 50)  # lapses after day 565
        async with churn.client("customer", customer_id) as http:
            answer = await http.post(
                f"/api/v1/customers/{customer_id}/points/redemptions",
                json={"points": 30, "request_id": str(uuid.uuid4())},
            )
            assert answer.status_code == 201
        await churn.run_job("expire-points")  # nothing of this customer has lapsed yet
        assert await balance(churn, customer_id) == 120
    with clock.frozen_at(start + timedelta(days=366)):
        await churn.run_job("expire-points")
        assert await balance(churn, customer_id) == 50  # the 70 left of the first 100 lapsed
        assert await churn.run_job("expire-points") == 0  # run again: nothing more
    with clock.frozen_at(start + timedelta(days=600)):
        await churn.run_job("expire-points")
        assert await balance(churn, customer_id) == 0
        async with churn.client("customer", customer_id) as http:
            history = (await http.get(f"/api/v1/customers/{customer_id}/points/history")).json()
    assert [(m["kind"], m["points"]) for m in history] == [
        ("expire", -50),
        ("expire", -70),
        ("redeem", -30),
        ("adjust", 50),
        ("adjust", 100),
    ]


async def customers_with_a_lot(churn, count: int, points: int, granted_at: datetime) -> list[str]:
    """`count` new customers, in id order, each granted `points` at `granted_at` (lapsing a year on)."""
    customers = sorted(f"c-lot-{uuid.uuid4().hex[:12]}" for _ in range(count))
    with clock.frozen_at(granted_at):
        for customer_id in customers:
            await grant(churn, customer_id, points)
    return customers


async def expiries(churn, customers: list[str]) -> list[tuple[str, int, int]]:
    """(customer, expire movements, points they took), in id order."""
    movement = ledger.PointsMovement
    async with churn.sessions() as session:
        rows = await session.execute(
            sa.select(movement.customer_id, sa.func.count(), sa.func.sum(movement.points))
            .where(movement.customer_id.in_(customers), movement.kind == "expire")
            .group_by(movement.customer_id)
            .order_by(movement.customer_id)
        )
        return [tuple(row) for row in rows]


async def test_an_expiry_pass_takes_customers_in_batches_after_the_last_one_and_each_once(
    service, tmp_path, monkeypatch
):
    monkeypatch.setattr(ledger, "EXPIRY_BATCH", 3)
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path))
    start = datetime(2031, 1, 1, tzinfo=UTC)
    ours = await customers_with_a_lot(churn, 7, 40, start)
    expiry = ledger.PointsExpiry()
    runs = []
    with clock.frozen_at(start + timedelta(days=400)):
        while handled := await expiry(churn.sessions):
            runs.append((handled, expiry.after))
        # The run that found fewer than a batch ended the pass: the last one above, or the one
        # that found none when the lapsed customers filled whole batches.
        assert expiry.after == ""
        assert await expiry(churn.sessions) == 0  # a new pass: nothing left
    # Full batches moved the cursor on, in customer id order; only the last run may be short
    # (other tests' customers may lapse by then too, so only the shape is fixed).
    assert len(runs) >= 3 and all(handled == 3 for handled, _ in runs[:-1])
    cursors = [after for handled, after in runs if handled == 3]
    assert all(cursors) and cursors == sorted(cursors)
    assert runs[-1][0] == 3 or runs[-1][1] == ""
    assert await expiries(churn, ours) == [(customer_id, 1, -40) for customer_id in ours]
    assert [await balance(churn, customer_id) for customer_id in ours] == [0] * 7


async def test_a_replica_expiring_while_another_is_mid_batch_takes_nothing_twice(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path))
    start = datetime(2033, 1, 1, tzinfo=UTC)
    ours = await customers_with_a_lot(churn, 5, 25, start)
    with clock.frozen_at(start + timedelta(days=400)):
        async with churn.sessions() as first, first.begin():
            await ledger._expire(first, ours, clock.now())  # one replica's batch, not committed yet

            async def drain(expiry: ledger.PointsExpiry) -> None:
                while await expiry(churn.sessions):
                    pass

            second = asyncio.create_task(drain(ledger.PointsExpiry()))  # it saw the points lapsed
            await asyncio.sleep(0.5)
            assert not second.done()  # waiting for the first replica's locks
        await second
    assert await expiries(churn, ours) == [(customer_id, 1, -25) for customer_id in ours]
    assert [await balance(churn, customer_id) for customer_id in ours] == [0] * 5


async def test_only_permitted_roles_redeem_or_adjust(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path))
    customer_id = str(uuid.uuid4())
    body = {"points": 10, "request_id": str(uuid.uuid4()), "reason": "goodwill"}
    async with churn.client("marketing_analyst") as http:
        assert (await http.post(f"/api/v1/customers/{customer_id}/points/redemptions", json=body)).status_code == 403
    async with churn.client("relationship_manager", "rm-1") as http:
        assert (await http.post(f"/api/v1/customers/{customer_id}/points/adjustments", json=body)).status_code == 403
    async with churn.client("admin") as http:
        zero = await http.post(f"/api/v1/customers/{customer_id}/points/adjustments", json={**body, "points": 0})
        assert zero.status_code == 422
