"""Through the gateway, with a model trained by `crm churn train` on event-fed features: a
customer's risk rises a band after complaints and a balance drop, churn.warning carries the
reasons, the manager's task appears with a due time and takes an outcome; points earned twice
from one event count once; managers, customers and read-only roles see only what they may."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import yaml

from events.contracts import BalanceSnapshotV1, TransactionPostedV1, new_event, topics
from services.churn.playbooks.service import in_holdout
from services.churn.settings import ChurnSettings
from tests.churn_data import ONLINE_SPEC, histories
from tests.support import eventually, new_customer

MANAGER = "user-relationship_manager"  # the harness's default subject for the role
BANDS = ("low", "medium", "high")


@pytest.fixture(scope="module")
def promoted_model(system, tmp_path_factory):
    """Train on features computed in batch from a history file; the running service picks the
    promoted model up. Afterwards the rules score again for the other tests."""
    folder = tmp_path_factory.mktemp("churn-training")
    at = datetime(2026, 6, 1, tzinfo=UTC)
    with open(folder / "history.jsonl", "w") as handle:
        for envelope in histories(1500, at):
            handle.write(envelope.model_dump_json() + "\n")
    system.run_cli(
        "churn",
        "features",
        "--history",
        str(folder / "history.jsonl"),
        "--at",
        at.isoformat(),
        "--out",
        str(folder / "features.csv"),
        "--label-horizon-days",
        "90",
    )
    (folder / "spec.yaml").write_text(yaml.safe_dump(ONLINE_SPEC))
    trained = system.run_cli(
        "churn", "train", "--data", str(folder / "features.csv"), "--spec", str(folder / "spec.yaml"), "--no-progress"
    )
    assert "promoted" in trained.stdout
    yield
    system.run_cli("churn", "retire")


def corebanking(name: str, payload):
    return new_event(name, payload, source="corebanking")


async def publish(kafka, *envelopes) -> None:
    for envelope in envelopes:
        await kafka.publish(topics.COREBANKING_ACTIVITY, envelope.model_dump_json().encode(), key=envelope.customer_id)


def snapshot(customer_id: str, balance: str, days_ago: float):
    return corebanking(
        "balance.snapshot",
        BalanceSnapshotV1(
            customer_id=customer_id,
            account_id=f"{customer_id}-cur",
            balance=Decimal(balance),
            as_of=datetime.now(UTC) - timedelta(days=days_ago),
        ),
    )


def purchase(customer_id: str, days_ago: float, amount: str = "150.00"):
    return corebanking(
        "transaction.posted",
        TransactionPostedV1(
            customer_id=customer_id,
            transaction_id=str(uuid.uuid4()),
            account_id=f"{customer_id}-cur",
            amount=Decimal(amount),
            direction="debit",
            posted_at=datetime.now(UTC) - timedelta(days=days_ago),
        ),
    )


async def test_risk_rises_a_band_warns_with_reasons_and_the_managers_task_takes_an_outcome(
    system, kafka, client, promoted_model
):
    gateway = system.url("gateway")
    manager = system.headers("relationship_manager")
    settings = ChurnSettings(model_dir="unused")
    while True:  # a customer outside the hold-out group (about 9 in 10 are)
        created = await client.post(f"{gateway}/api/v1/customers", json=new_customer(), headers=manager)
        assert created.status_code == 201, created.text
        customer_id = created.json()["id"]
        if not in_holdout(customer_id, settings):
            break
    me = system.headers("customer", customer_id)

    async def risk(**expected) -> dict:
        answer = await client.get(f"{gateway}/api/v1/customers/{customer_id}/churn-risk", headers=manager)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        for key, value in expected.items():
            assert body[key] == value, body
        return body

    # Core banking's view: a balance that holds and regular card spending. One purchase is
    # published twice: its points count once.
    steady = [snapshot(customer_id, f"{30000 + 100 * i}", days) for i, days in enumerate(range(180, 0, -15))]
    steady += [purchase(customer_id, days) for days in (50, 41, 33, 26, 20, 14, 9, 5)]
    repeated = purchase(customer_id, 2, amount="250.00")
    await publish(kafka, *steady, repeated, repeated)
    await kafka.drained(topics.COREBANKING_ACTIVITY, "transaction.posted", customer_id, "churn")
    before = await eventually(lambda: risk(model="model-1", level="low"))
    assert before["signals"]["transactions_30d"] > 5

    async def points() -> int:
        answer = await client.get(f"{gateway}/api/v1/customers/{customer_id}/points", headers=me)
        assert answer.status_code == 200, answer.text
        return answer.json()["balance"]

    history = (await client.get(f"{gateway}/api/v1/customers/{customer_id}/points/history", headers=me)).json()
    # 8 purchases of 150 (1 point each, mass tier) and the repeated one of 250 (2 points), once.
    assert sorted(m["points"] for m in history) == [1] * 8 + [2]
    assert await points() == 10

    # Trouble: complaints and an unhappy answer in the app, and most of the money moved out.
    for text in ("Card blocked abroad.", "Nobody called back.", "Charged twice."):
        answer = await client.post(
            f"{gateway}/api/v1/complaints",
            headers=me,
            json={"customer_id": customer_id, "category": "service", "channel": "mobile", "description": text},
        )
        assert answer.status_code == 201, answer.text
    answer = await client.post(
        f"{gateway}/api/v1/feedback",
        headers=me,
        json={"customer_id": customer_id, "survey": "nps", "score": 1, "channel": "mobile"},
    )
    assert answer.status_code == 201, answer.text
    await publish(kafka, snapshot(customer_id, "8000", 0.5), snapshot(customer_id, "2500", 0.1))

    async def everything_applied() -> dict:
        body = await risk(model="model-1")
        assert body["features"]["complaints"] == 3 and body["features"]["nps_detractors"] == 1, body
        assert body["signals"]["balance"] == 2500, body
        return body

    after = await eventually(everything_applied)
    assert BANDS.index(after["level"]) > 0, after

    # A warning each time the band rose (the customer may cross a boundary more than once while
    # the events arrive); the last one names the band reached.
    async def warned() -> list:
        found = await kafka.wait_for(
            topics.CHURN, lambda e, h: e.customer_id == customer_id and e.type == "churn.warning"
        )
        assert found[-1][0].payload["level"] == after["level"]
        return found

    warnings = await eventually(warned)
    assert all(BANDS.index(w.payload["level"]) > BANDS.index(w.payload["previous_level"]) for w, _ in warnings)
    warning = warnings[-1][0]
    contributions = {c["factor"]: c["points"] for c in after["contributions"]}
    assert contributions["complaints_90d"] > 0 and contributions["balance_trend_30d"] > 0
    assert warning.payload["reasons"] and warning.payload["model"] == "model-1"
    assert {"complaints_90d", "balance_trend_30d", "satisfaction"} & set(warning.payload["reasons"])

    async def tasks_of(headers) -> list:
        answer = await client.get(
            f"{gateway}/api/v1/retention-tasks", params={"customer_id": customer_id}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    tasks = await tasks_of(manager)
    task = next(t for t in tasks if t["band"] == after["level"])
    hours = {"high": settings.high_call_within_hours, "medium": settings.medium_callback_within_hours}[after["level"]]
    assert datetime.fromisoformat(task["due_at"]) - datetime.fromisoformat(task["created_at"]) == timedelta(hours=hours)
    assert task["manager_id"] == MANAGER and task["status"] == "open"

    # Another manager, the customer and a read-only role: nothing to see or to change.
    other = system.headers("relationship_manager", "rm-other")
    assert await tasks_of(other) == []
    assert (await client.get(f"{gateway}/api/v1/retention-tasks/{task['id']}", headers=other)).status_code == 404
    outcome = f"{gateway}/api/v1/retention-tasks/{task['id']}/outcome"
    assert (await client.post(outcome, json={"outcome": "retained"}, headers=other)).status_code == 404
    assert (await client.get(f"{gateway}/api/v1/retention-tasks", headers=me)).status_code == 403
    auditor = system.headers("compliance_officer", **{"X-Access-Reason": "review"})
    assert (await client.post(outcome, json={"outcome": "retained"}, headers=auditor)).status_code == 403
    assert (
        await client.get(
            f"{gateway}/api/v1/customers/{customer_id}/points", headers=system.headers("customer", str(uuid.uuid4()))
        )
    ).status_code == 404
    assert (await client.get(f"{gateway}/api/v1/customers/{customer_id}/points", headers=other)).status_code == 404

    done = await client.post(outcome, json={"outcome": "offer_accepted"}, headers=manager)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["outcome"]) == ("done", "offer_accepted")
    # 10 for spending, 20 for the survey answered, the offer's points when accepted.
    assert await points() == 10 + 20 + task["offer_points"]

    kpis = await client.get(f"{gateway}/api/v1/kpis/churn", params={"by": "band"}, headers=manager)
    assert kpis.status_code == 200, kpis.text
    names = {k["name"]: k for k in kpis.json()["kpis"]}
    assert names["retention_treated"]["count"] >= 1 and names["model_drift_psi"]["count"] >= 1
