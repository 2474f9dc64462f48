"""Online scoring with the promoted model, warnings on a band rise with reasons, playbook tasks
for the customer's manager, the hold-out group, task outcomes."""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from events.contracts import (
    BalanceSnapshotV1,
    ComplaintOpenedV1,
    CoreBankingProductClosedV1,
    CoreBankingProductOpenedV1,
    CustomerCreatedV1,
    CustomerUpdatedV1,
    FeedbackReceivedV1,
    TransactionPostedV1,
    new_event,
)
from services.churn.playbooks.models import Intervention
from services.churn.playbooks.service import in_holdout
from services.churn.settings import ChurnSettings
from services.kit.clock import now
from tests.churn_data import ONLINE_SPEC

BANDS = ("low", "medium", "high")


def created(customer_id: str, manager: str | None):
    return new_event(
        "customer.created",
        CustomerCreatedV1(
            customer_id=customer_id,
            risk_level="C3",
            assets_under_management=Decimal("20000"),
            relationship_manager_id=manager,
        ),
        source="profile",
    )


def snapshot(customer_id: str, balance: str, days_ago: float):
    return new_event(
        "balance.snapshot",
        BalanceSnapshotV1(
            customer_id=customer_id,
            account_id=f"{customer_id}-acc",
            balance=Decimal(balance),
            as_of=now() - timedelta(days=days_ago),
        ),
        source="corebanking",
    )


def spend(customer_id: str, amount: str, days_ago: float):
    return new_event(
        "transaction.posted",
        TransactionPostedV1(
            customer_id=customer_id,
            transaction_id=str(uuid.uuid4()),
            account_id=f"{customer_id}-acc",
            amount=Decimal(amount),
            direction="debit",
            posted_at=now() - timedelta(days=days_ago),
        ),
        source="corebanking",
    )


def complaint(customer_id: str):
    return new_event(
        "complaint.opened",
        ComplaintOpenedV1(complaint_id=str(uuid.uuid4()), customer_id=customer_id, category="fees", channel="branch"),
        source="feedback",
    )


def detractor(customer_id: str):
    return new_event(
        "feedback.received",
        FeedbackReceivedV1(
            feedback_id=str(uuid.uuid4()), customer_id=customer_id, survey="nps", score=2, channel="web"
        ),
        source="feedback",
    )


def steady_customer(customer_id: str, manager: str | None) -> list:
    """A customer who transacts often and whose balance holds: low risk. Core banking's history
    arrives first; the customer record makes them known (and scored into a band)."""
    events = [snapshot(customer_id, f"{30000 + 100 * i}", days) for i, days in enumerate(range(180, 0, -15))]
    events += [spend(customer_id, "120.00", days) for days in (50, 41, 33, 26, 20, 14, 9, 5, 2)]
    return [*events, created(customer_id, manager)]


def trouble(customer_id: str) -> list:
    """Complaints, an unhappy survey answer and most of the money moved out."""
    return [
        complaint(customer_id),
        complaint(customer_id),
        detractor(customer_id),
        snapshot(customer_id, "9000", 0.5),
        snapshot(customer_id, "3000", 0.1),
    ]


async def risk(churn, customer_id: str) -> dict:
    async with churn.client("admin") as http:
        answer = await http.get(f"/api/v1/customers/{customer_id}/churn-risk")
    assert answer.status_code == 200, answer.text
    return answer.json()


def customer_outside_holdout(settings: ChurnSettings) -> str:
    while in_holdout(customer_id := str(uuid.uuid4()), settings):
        pass
    return customer_id


async def test_complaints_and_a_balance_drop_raise_the_band_warn_with_reasons_and_task_the_manager(
    service, online_model_dir
):
    churn = await service("churn", CHURN_MODEL_DIR=online_model_dir)
    settings = churn.spec.settings
    customer_id, manager = customer_outside_holdout(settings), f"rm-{uuid.uuid4()}"
    for envelope in steady_customer(customer_id, manager):
        await churn.deliver(envelope)
    before = await risk(churn, customer_id)
    assert (before["model"], before["model_version"], before["level"]) == ("model-1", 1, "low")
    assert not await churn.published("churn.warning", customer_id=customer_id)

    at_warning = None  # the explanation when the band rose (a tree model's shares move with every feature)
    for envelope in trouble(customer_id):
        await churn.deliver(envelope)
        if at_warning is None and await churn.published("churn.warning", customer_id=customer_id):
            at_warning = await risk(churn, customer_id)
    after = await risk(churn, customer_id)
    assert BANDS.index(after["level"]) > BANDS.index(before["level"])
    assert after["probability"] > before["probability"]
    contributions = {c["factor"]: c["points"] for c in after["contributions"]}
    assert set(contributions) == set(ONLINE_SPEC["columns"])  # every feature of the model explained
    assert contributions["complaints_90d"] > 0 and contributions["balance_trend_30d"] > 0

    [warning] = await churn.published("churn.warning", customer_id=customer_id)
    payload = warning.payload
    assert (payload["previous_level"], payload["level"], payload["model"]) == ("low", after["level"], "model-1")
    assert len(payload["reasons"]) <= 3 and {"complaints_90d", "balance_trend_30d"} & set(payload["reasons"])
    assert at_warning is not None
    raised = {c["factor"]: c["points"] for c in at_warning["contributions"]}
    assert all(raised[r] > 0 for r in payload["reasons"]), (payload["reasons"], raised)

    async with churn.client("relationship_manager", manager) as http:
        tasks = (await http.get("/api/v1/retention-tasks", params={"customer_id": customer_id})).json()
    expected = {"high": ["retention_call"], "medium": ["callback"]}[after["level"]]
    assert sorted(t["kind"] for t in tasks) == sorted(expected)
    # The medium band's survey goes to the feedback service, which invites the customer.
    requested = [
        (e.payload["survey"], e.payload["channel"])
        for e in await churn.published("churn.survey_requested", customer_id=customer_id)
    ]
    assert requested == {"high": [], "medium": [("nps", "mobile")]}[after["level"]]
    first = min(tasks, key=lambda t: t["due_at"])
    hours = settings.high_call_within_hours if after["level"] == "high" else settings.medium_callback_within_hours
    created_at, due = (datetime.fromisoformat(first[k]) for k in ("created_at", "due_at"))
    assert due - created_at == timedelta(hours=hours)
    assert all(t["status"] == "open" and t["manager_id"] == manager for t in tasks)

    # Another manager neither lists nor reads nor completes them; a reading role cannot write.
    async with churn.client("relationship_manager", "rm-someone-else") as http:
        assert (await http.get("/api/v1/retention-tasks", params={"customer_id": customer_id})).json() == []
        assert (await http.get(f"/api/v1/retention-tasks/{first['id']}")).status_code == 404
        answer = await http.post(f"/api/v1/retention-tasks/{first['id']}/outcome", json={"outcome": "retained"})
        assert answer.status_code == 404
    async with churn.client("marketing_analyst") as http:
        answer = await http.post(f"/api/v1/retention-tasks/{first['id']}/outcome", json={"outcome": "retained"})
        assert answer.status_code == 403

    async with churn.client("relationship_manager", manager) as http:
        done = await http.post(f"/api/v1/retention-tasks/{first['id']}/outcome", json={"outcome": "offer_accepted"})
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["outcome"], done.json()["completed_by"]) == (
            "done",
            "offer_accepted",
            manager,
        )
        again = await http.post(f"/api/v1/retention-tasks/{first['id']}/outcome", json={"outcome": "declined"})
        assert again.status_code == 409
        points = (await http.get(f"/api/v1/customers/{customer_id}/points/history")).json()
    offers = [m for m in points if m["reason"] == "retention_offer"]
    assert [m["points"] for m in offers] == ([settings.points_retention_offer] if first["offer_points"] else [])

    # Staying in the band warns no more.
    await churn.deliver(complaint(customer_id))
    assert len(await churn.published("churn.warning", customer_id=customer_id)) == 1


async def test_the_hold_out_group_gets_no_tasks_but_its_episode_is_recorded(service, online_model_dir):
    churn = await service("churn", CHURN_MODEL_DIR=online_model_dir, CHURN_HOLDOUT_FRACTION="0.5")
    settings = churn.spec.settings
    while not in_holdout(customer_id := str(uuid.uuid4()), settings):
        pass
    assert in_holdout(customer_id, settings)  # stable: the same answer every time
    for envelope in steady_customer(customer_id, "rm-h") + trouble(customer_id):
        await churn.deliver(envelope)
    assert await churn.published("churn.warning", customer_id=customer_id)
    async with churn.client("admin") as http:
        assert (await http.get("/api/v1/retention-tasks", params={"customer_id": customer_id})).json() == []
    assert await churn.published("churn.survey_requested", customer_id=customer_id) == []
    async with churn.sessions() as session:
        groups = (
            await session.scalars(sa.select(Intervention.group).where(Intervention.customer_id == customer_id))
        ).all()
    assert groups == ["control"]


async def test_without_a_promoted_model_the_rules_score_and_a_new_manager_takes_open_tasks(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path / "empty"), CHURN_HOLDOUT_FRACTION="0")
    customer_id = str(uuid.uuid4())
    await churn.deliver(created(customer_id, "rm-a"))
    for _ in range(2):
        await churn.deliver(complaint(customer_id))
    body = await risk(churn, customer_id)
    assert (body["model"], body["model_version"], body["score"], body["level"]) == ("rules-v1", None, 40, "medium")
    [warning] = await churn.published("churn.warning", customer_id=customer_id)
    assert warning.payload["reasons"] == ["complaints"] and warning.payload["model"] == "rules-v1"

    moved = new_event(
        "customer.updated",
        CustomerUpdatedV1(
            customer_id=customer_id,
            risk_level="C3",
            assets_under_management=Decimal("20000"),
            changed_fields=["relationship_manager_id"],
            relationship_manager_id="rm-b",
        ),
        source="profile",
    )
    await churn.deliver(moved)
    async with churn.client("relationship_manager", "rm-b") as http:
        tasks = (await http.get("/api/v1/retention-tasks", params={"customer_id": customer_id})).json()
    assert {t["kind"] for t in tasks} == {"callback"}
    [requested] = await churn.published("churn.survey_requested", customer_id=customer_id)
    async with churn.sessions() as session:
        [episode] = (
            await session.scalars(sa.select(Intervention.id).where(Intervention.customer_id == customer_id))
        ).all()
    assert (requested.payload["survey"], requested.payload["intervention_id"]) == ("nps", episode)
    async with churn.client("relationship_manager", "rm-a") as http:
        assert (await http.get("/api/v1/retention-tasks", params={"customer_id": customer_id})).json() == []


def holding(customer_id: str, n: int, *, closed_days_ago: float | None = None):
    """Core banking's product `n` of the customer: opened two years ago, or closed since."""
    holding_id = f"{customer_id}-p{n}"
    if closed_days_ago is None:
        payload = CoreBankingProductOpenedV1(
            customer_id=customer_id,
            holding_id=holding_id,
            product_code="DEP-1Y",
            amount=Decimal("5000"),
            opened_at=now() - timedelta(days=730),
        )
        return new_event("corebanking.product_opened", payload, source="corebanking")
    closing = CoreBankingProductClosedV1(
        customer_id=customer_id,
        holding_id=holding_id,
        product_code="DEP-1Y",
        closed_at=now() - timedelta(days=closed_days_ago),
    )
    return new_event("corebanking.product_closed", closing, source="corebanking")


async def test_closing_products_raises_the_risk_through_the_product_use_features(service, online_model_dir):
    churn = await service("churn", CHURN_MODEL_DIR=online_model_dir)
    customer_id = customer_outside_holdout(churn.spec.settings)
    for envelope in [*steady_customer(customer_id, "rm-p"), *(holding(customer_id, n) for n in range(3))]:
        await churn.deliver(envelope)
    before = await risk(churn, customer_id)
    assert before["signals"]["products_held"] == 3 and before["signals"]["products_closed_90d"] == 0

    for n in range(2):
        await churn.deliver(holding(customer_id, n, closed_days_ago=1))
    after = await risk(churn, customer_id)
    assert after["signals"]["products_held"] == 1 and after["signals"]["products_closed_90d"] > 1.9
    assert after["probability"] > before["probability"]
    contributions = {c["factor"]: c["points"] for c in after["contributions"]}
    assert contributions["products_closed_90d"] > 0
