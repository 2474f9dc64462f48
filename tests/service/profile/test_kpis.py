"""Customer KPIs against hand-computed values on a small book, each test in its own past window."""

import uuid
from datetime import UTC, datetime, timedelta

from events.contracts import RiskAssessmentCompletedV1, new_event
from services.kit import clock
from tests.support import new_customer


async def _create(http, profile=None, risk_level: str | None = None, **overrides) -> str:
    answer = await http.post("/api/v1/customers", json=new_customer(**overrides))
    assert answer.status_code == 201, answer.text
    customer_id = answer.json()["id"]
    if risk_level is not None:  # the level comes from a risk assessment, as in production
        moment = clock.now()
        await profile.deliver(
            new_event(
                "risk_assessment.completed",
                RiskAssessmentCompletedV1(
                    customer_id=customer_id,
                    assessment_id=str(uuid.uuid4()),
                    risk_level=risk_level,
                    lowest_category=False,
                    questionnaire_version="test",
                    recorded_by_role="customer",
                    completed_at=moment,
                    valid_until=moment + timedelta(days=365),
                ),
                source="recommendation",
            )
        )
    return customer_id


async def _churn(http, customer_id: str) -> None:
    for stage in ("onboarding", "active", "churned"):
        answer = await http.post(f"/api/v1/customers/{customer_id}/lifecycle", json={"stage": stage, "reason": "test"})
        assert answer.status_code == 200, answer.text


def _by_name(report: dict) -> dict:
    return {kpi["name"]: kpi for kpi in report["kpis"]}


async def test_book_new_and_churned_match_hand_computed_values(service):
    profile = await service("profile")
    async with (
        profile.client("relationship_manager", "rm-kpi-a") as mine,
        profile.client("relationship_manager", "rm-kpi-b") as theirs,
    ):
        with clock.frozen_at(datetime(2011, 3, 1, 9, tzinfo=UTC)):
            a1 = await _create(mine, assets_under_management="5000000.00", risk_level="C5", profile=profile)
            await _create(mine, assets_under_management="100.00", risk_level="C1", profile=profile)
        with clock.frozen_at(datetime(2011, 3, 8, 9, tzinfo=UTC)):
            await _create(mine, assets_under_management="300000.00", risk_level="C4", profile=profile)
            await _create(theirs, assets_under_management="1.00", risk_level="C2", profile=profile)
        with clock.frozen_at(datetime(2011, 3, 20, 9, tzinfo=UTC)):
            await _churn(mine, a1)

        window = {"from": "2011-03-01T00:00:00Z", "to": "2011-04-01T00:00:00Z", "bucket": "week"}
        answer = await mine.get("/api/v1/kpis/customers", params={**window, "by": "risk_level"})
        assert answer.status_code == 200, answer.text
        kpis = _by_name(answer.json())

        # rm-kpi-a's portfolio only: three customers, one of them churned on 20 March.
        assert kpis["customers"]["value"] == 3
        assert kpis["new_customers"]["value"] == 3
        assert [(p["bucket"], p["value"]) for p in kpis["new_customers"]["series"]] == [
            ("2011-02-28", 2.0),
            ("2011-03-07", 1.0),
        ]
        assert kpis["churned_customers"]["value"] == 1
        assert kpis["assets_under_management"]["value"] == 5300100.0
        assert kpis["high_risk_appetite_share"]["value"] == 2 / 3
        breakdown = {g["key"]: g["value"] for g in kpis["customers"]["breakdown"]}
        assert breakdown == {"C1": 1, "C4": 1, "C5": 1}

        # No one had joined before the window, so the churn rate over it is undefined, not 0.
        assert kpis["churn_rate"]["value"] is None


async def test_a_manager_never_sees_another_portfolio_and_bad_windows_are_refused(service):
    profile = await service("profile")
    async with profile.client("relationship_manager", "rm-kpi-c") as other, profile.client("admin") as admin:
        with clock.frozen_at(datetime(2012, 5, 2, tzinfo=UTC)):
            async with profile.client("relationship_manager", "rm-kpi-d") as owner:
                await _create(owner)
        window = {"from": "2012-05-01T00:00:00Z", "to": "2012-06-01T00:00:00Z"}
        assert _by_name((await other.get("/api/v1/kpis/customers", params=window)).json())["customers"]["value"] == 0
        everyone = _by_name((await admin.get("/api/v1/kpis/customers", params={**window, "by": "manager"})).json())
        assert everyone["new_customers"]["value"] == 1
        assert {g["key"] for g in everyone["new_customers"]["breakdown"]} == {"rm-kpi-d"}

        backwards = await admin.get("/api/v1/kpis/customers", params={"from": window["to"], "to": window["from"]})
        assert backwards.status_code == 422
        assert backwards.headers["content-type"].startswith("application/problem+json")
        unknown = await admin.get("/api/v1/kpis/customers", params={**window, "by": "colour"})
        assert unknown.status_code == 422 and "tier" in unknown.json()["detail"]


async def test_an_erasure_leaves_past_figures_as_they_were(service):
    """R2.2: an erased customer's row keeps what the figures count (created, assets, risk level,
    churn move), so a past window reads the same after the erasure, bank-wide (from the book's
    sums) and in the manager's portfolio (counted customer by customer). Only the erased
    customer's identity document stops counting as due for renewal."""
    profile = await service("profile")
    async with profile.client("relationship_manager", "rm-kpi-erase") as manager, profile.client("admin") as admin:
        with clock.frozen_at(datetime(2007, 5, 2, 9, tzinfo=UTC)):
            await _create(manager, assets_under_management="2500.00", risk_level="C4", profile=profile)
            leaving = await _create(manager, assets_under_management="7000.00", risk_level="C5", profile=profile)
            document = {"type": "passport", "document_number": "E1234567", "issuer": "CN", "expires_on": "2007-06-10"}
            answer = await manager.post(f"/api/v1/customers/{leaving}/documents", json=document)
            assert answer.status_code == 201, answer.text
        with clock.frozen_at(datetime(2007, 5, 20, 9, tzinfo=UTC)):
            await _churn(manager, leaving)
        window = {"from": "2007-05-01T00:00:00Z", "to": "2007-06-01T00:00:00Z"}

        async def figures() -> list[dict]:
            """The manager's figures, then the bank's."""
            reports = []
            for http in (manager, admin):
                answer = await http.get("/api/v1/kpis/customers", params=window)
                assert answer.status_code == 200, answer.text
                reports.append({kpi["name"]: kpi["value"] for kpi in answer.json()["kpis"]})
            return reports

        before = await figures()
        answer = await admin.post(f"/api/v1/customers/{leaving}/erasure", json={"reason": "customer asked"})
        assert answer.status_code == 202, answer.text
        after = await figures()

    mine = after[0]
    assert (mine["customers"], mine["churned_customers"], mine["assets_under_management"]) == (2, 1, 9500.0)
    assert mine["high_risk_appetite_share"] == 1.0
    for was, now in zip(before, after, strict=True):
        assert now["kyc_documents_expiring"] == was["kyc_documents_expiring"] - 1
        del was["kyc_documents_expiring"], now["kyc_documents_expiring"]
        assert now == was
