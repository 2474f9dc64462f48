"""Churn KPIs in the shared KPI shape: churn rate, bands, retention treated vs control, lifetime
value, model drift."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from events.contracts import ComplaintOpenedV1, CustomerCreatedV1, CustomerLifecycleChangedV1, new_event
from services.churn.features.value import lifetime_value
from services.churn.model import metrics
from services.churn.playbooks.service import in_holdout
from services.churn.settings import ChurnSettings
from services.kit import clock
from services.kit.kpi import KpiReport
from services.kit.observability import CHURN_MODEL_DRIFT

WINDOW_START = datetime(2031, 3, 1, tzinfo=UTC)


def at(moment: datetime, envelope):
    return envelope.model_copy(update={"time": moment})


async def high_risk_customer(churn, customer_id: str, moment: datetime) -> None:
    """Rules: two complaints (40) and an assets drop (20) plus... enough for medium at least."""
    await churn.deliver(
        at(
            moment,
            new_event(
                "customer.created",
                CustomerCreatedV1(customer_id=customer_id, risk_level="C3", assets_under_management=Decimal("100000")),
                source="profile",
            ),
        )
    )
    for _ in range(2):
        await churn.deliver(
            at(
                moment,
                new_event(
                    "complaint.opened",
                    ComplaintOpenedV1(
                        complaint_id=str(uuid.uuid4()), customer_id=customer_id, category="fees", channel="web"
                    ),
                    source="feedback",
                ),
            )
        )


async def test_churn_kpis_compare_treated_and_control_by_band(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path), CHURN_HOLDOUT_FRACTION="0.5")
    settings = churn.spec.settings
    treated: list[str] = []
    control: list[str] = []
    while len(treated) < 2 or len(control) < 2:
        customer_id = str(uuid.uuid4())
        (control if in_holdout(customer_id, settings) else treated).append(customer_id)
    treated, control = treated[:2], control[:2]
    moment = WINDOW_START + timedelta(days=2)
    with clock.frozen_at(moment):
        for customer_id in treated + control:
            await high_risk_customer(churn, customer_id, moment)
        # One treated and both control customers leave.
        for customer_id in [treated[0], *control]:
            await churn.deliver(
                at(
                    moment + timedelta(days=1),
                    new_event(
                        "customer.lifecycle_changed",
                        CustomerLifecycleChangedV1(customer_id=customer_id, previous_stage="active", stage="churned"),
                        source="profile",
                    ),
                )
            )

    window = {"from": WINDOW_START.isoformat(), "to": (WINDOW_START + timedelta(days=30)).isoformat(), "by": "band"}
    async with churn.client("admin") as http:
        answer = await http.get("/api/v1/kpis/churn", params=window)
        bad = await http.get("/api/v1/kpis/churn", params={**window, "by": "channel"})
    assert answer.status_code == 200, answer.text
    assert bad.status_code == 422
    report = KpiReport.model_validate(answer.json())
    kpis = {k.name: k for k in report.kpis}
    assert kpis["churn_rate"].value == pytest.approx(3 / kpis["churn_rate"].count) and kpis["churn_rate"].count >= 4
    assert (kpis["retention_treated"].value, kpis["retention_treated"].count) == (0.5, 2)
    assert (kpis["retention_control"].value, kpis["retention_control"].count) == (0.0, 2)
    assert kpis["retention_uplift"].value == 0.5
    medium = {g.key: g for g in kpis["retention_treated"].breakdown}["medium"]
    assert (medium.value, medium.count) == (0.5, 2)
    bands = {g.key: g.count for g in kpis["customers_by_band"].breakdown}
    assert set(bands) == {"low", "medium", "high"} and bands["medium"] >= 1
    assert (kpis["lifetime_value"].value or 0) > 0
    assert kpis["model_drift_psi"].value is None  # no model promoted: the rules score

    # The mean lifetime value summed in the database equals `lifetime_value` over the same rows.
    async with churn.engine.connect() as connection:
        rows = (
            await connection.exec_driver_sql(
                "SELECT assets_under_management, probability FROM customer_features WHERE churned_at IS NULL"
                " AND assets_under_management IS NOT NULL AND probability IS NOT NULL"
            )
        ).all()
    expected = [lifetime_value(float(assets), probability, settings) for assets, probability in rows]
    assert kpis["lifetime_value"].count == len(expected) >= 1
    assert kpis["lifetime_value"].value == pytest.approx(sum(expected) / len(expected), rel=1e-9)


async def test_drift_is_measured_against_the_promoted_models_validation_scores(service, online_model_dir):
    from tests.service.churn.test_retention import steady_customer

    churn = await service("churn", CHURN_MODEL_DIR=online_model_dir)
    for _ in range(5):
        for envelope in steady_customer(str(uuid.uuid4()), "rm-d"):
            await churn.deliver(envelope)
    async with churn.client("admin") as http:
        kpis = {k["name"]: k for k in (await http.get("/api/v1/kpis/churn")).json()["kpis"]}
    drift = kpis["model_drift_psi"]
    assert drift["count"] >= 5 and drift["value"] >= 0 and drift["unit"] == "index"

    # The background measurement exports the same figure for the alert (deploy/), for the
    # promoted model only.
    CHURN_MODEL_DRIFT.labels("model-0").set(9.0)  # a model promoted before, since replaced
    await churn.run_job("measure-drift")
    exported = {
        sample.labels["model"]: sample.value for metric in CHURN_MODEL_DRIFT.collect() for sample in metric.samples
    }
    model = churn.app.state.churn_scorer.model()
    assert exported == {model.name: pytest.approx(drift["value"], abs=1e-6)}


def test_lifetime_value_falls_as_churn_probability_rises():
    settings = ChurnSettings(model_dir="/tmp/unused")
    values = [lifetime_value(100_000, p, settings) for p in (0.0, 0.2, 0.5, 0.9, 1.0)]
    assert values == sorted(values, reverse=True) and values[-1] == 0
    margin = settings.ltv_margin_rate * 100_000
    assert values[0] == pytest.approx(
        sum(margin / (1 + settings.ltv_discount_rate) ** y for y in range(1, settings.ltv_horizon_years + 1))
    )


async def test_a_manager_sees_churn_figures_for_their_own_customers_only(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path))
    mine, theirs = f"rm-kpi-{uuid.uuid4().hex[:6]}", f"rm-kpi-{uuid.uuid4().hex[:6]}"
    for manager, count in ((mine, 2), (theirs, 3)):
        for _ in range(count):
            await churn.deliver(
                new_event(
                    "customer.created",
                    CustomerCreatedV1(
                        customer_id=str(uuid.uuid4()),
                        risk_level="C3",
                        assets_under_management=Decimal("50000"),
                        relationship_manager_id=manager,
                    ),
                    source="profile",
                )
            )
    async with churn.client("relationship_manager", mine) as http:
        kpis = {k["name"]: k for k in (await http.get("/api/v1/kpis/churn")).json()["kpis"]}
    assert kpis["customers_by_band"]["value"] == 2  # not the other manager's three


async def _features(churn) -> list:
    async with churn.engine.connect() as connection:
        return (
            await connection.exec_driver_sql(
                "SELECT customer_id, assets_under_management, probability, lifetime_value, churned_at, model"
                " FROM customer_features"
            )
        ).all()


async def test_stored_lifetime_values_equal_a_recomputation_after_writes_and_a_settings_change(service, tmp_path):
    churn = await service("churn", CHURN_MODEL_DIR=str(tmp_path))
    customers = [str(uuid.uuid4()) for _ in range(3)]
    moment = WINDOW_START + timedelta(days=40)
    with clock.frozen_at(moment):
        for customer_id in customers:
            await high_risk_customer(churn, customer_id, moment)
        # New assets for one (a later customer event), a complaint before any assets for another.
        await churn.deliver(
            at(
                moment + timedelta(hours=1),
                new_event(
                    "customer.created",
                    CustomerCreatedV1(customer_id=customers[0], risk_level="C3", assets_under_management=Decimal("7")),
                    source="profile",
                ),
            )
        )
        early = str(uuid.uuid4())
        await churn.deliver(
            new_event(
                "complaint.opened",
                ComplaintOpenedV1(complaint_id=str(uuid.uuid4()), customer_id=early, category="fees", channel="web"),
                source="feedback",
            )
        )

    def recomputed(settings: ChurnSettings) -> dict:
        return {
            row.customer_id: None
            if row.assets_under_management is None or row.probability is None
            else pytest.approx(lifetime_value(float(row.assets_under_management), row.probability, settings), rel=1e-9)
            for row in rows
        }

    rows = await _features(churn)
    assert {row.customer_id: row.lifetime_value for row in rows} == recomputed(churn.spec.settings)
    assert {row.customer_id: row.lifetime_value for row in rows}[early] is None
    # Run with another discount rate, the service values every customer again, once.
    again = await service("churn", CHURN_MODEL_DIR=str(tmp_path), CHURN_LTV_DISCOUNT_RATE="0.2")
    assert await again.run_job("revalue-customers") == 1
    assert await again.run_job("revalue-customers") == 0
    rows = await _features(again)
    changed = recomputed(again.spec.settings)
    assert {row.customer_id: row.lifetime_value for row in rows} == changed
    assert changed != recomputed(churn.spec.settings)


async def test_drift_counted_in_the_database_equals_the_psi_of_every_current_score(service, online_model_dir):
    from tests.service.churn.test_retention import steady_customer, trouble

    churn = await service("churn", CHURN_MODEL_DIR=online_model_dir)
    for i in range(8):
        customer_id = str(uuid.uuid4())
        for envelope in steady_customer(customer_id, "rm-psi"):
            await churn.deliver(envelope)
        if i % 2:
            for envelope in trouble(customer_id):
                await churn.deliver(envelope)
    model = churn.app.state.churn_scorer.model()
    scores = np.array(
        [r.probability for r in await _features(churn) if r.churned_at is None and r.model == model.name],
        dtype=float,
    )
    async with churn.client("admin") as http:
        kpis = {k["name"]: k for k in (await http.get("/api/v1/kpis/churn")).json()["kpis"]}
    assert len(set(scores.round(6))) > 1 and kpis["model_drift_psi"]["count"] == len(scores)
    assert kpis["model_drift_psi"]["value"] == metrics.psi(model.meta["reference_scores"], scores)
