"""Screening in the profile service, in process on PostgreSQL: alerts at onboarding, the
lifecycle block, two-person decisions, remembered false positives, re-screening on a new list
version, and money-laundering risk ratings with their review tasks."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from services.kit import clock
from services.profile.models import audit
from services.profile.screening.book import rescreen_batch
from services.profile.screening.lists import store_version
from services.profile.screening.loader import ParsedList
from services.profile.screening.matcher import ListedPerson
from tests.service.conftest import PREFIX, ServiceDatabases
from tests.support import new_customer


@pytest.fixture(scope="module")
def service_databases() -> ServiceDatabases:
    """A profile database of this module's own: each list version re-screens the whole book, and
    the session's shared database holds every customer the other tests created."""
    return ServiceDatabases(prefix=f"{PREFIX}_screening")


MANAGER = ("relationship_manager", "rm-screen")
OFFICER_A = ("compliance_officer", "co-a")
OFFICER_B = ("compliance_officer", "co-b")


async def load(profile, *people: ListedPerson, name: str, rescreen: bool = True) -> None:
    async with profile.sessions() as session, session.begin():
        await store_version(session, ParsedList(list(people), 0), name=name, source="test", list_format="ftm")
    if rescreen:
        await rescreen_book(profile)


async def rescreen_book(profile) -> None:
    """What the profile's `rescreen-book` job does in the background, run to the end."""
    while await rescreen_batch(profile.sessions, profile.app.state.settings):
        pass


def listed(han_name: str, *, born="1961-03-09", nationality="cn", topics=("sanction",)) -> ListedPerson:
    return ListedPerson(f"test-{uuid.uuid4().hex[:8]}", (han_name,), (born,), (nationality,), topics)


async def onboard(profile, name: str, **fields) -> dict:
    async with profile.client(*MANAGER) as http:
        answer = await http.post(
            "/api/v1/customers",
            json=new_customer(
                name=name, lifecycle_stage="onboarding", **{"birth_date": "1961-03-09", "nationality": "CN", **fields}
            ),
        )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def open_alerts(profile, customer_id: str) -> list[dict]:
    async with profile.client(*OFFICER_A, reason="aml screening") as http:
        answer = await http.get("/api/v1/screening/alerts", params={"customer_id": customer_id})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def decide(profile, officer, alert_id: str, outcome: str, reason="different person: other birth place"):
    async with profile.client(*officer, reason="aml screening") as http:
        return await http.post(
            f"/api/v1/screening/alerts/{alert_id}/decisions", json={"outcome": outcome, "reason": reason}
        )


async def activate(profile, customer_id: str, role=MANAGER):
    async with profile.client(*role) as http:
        return await http.post(
            f"/api/v1/customers/{customer_id}/lifecycle", json={"stage": "active", "reason": "kyc done"}
        )


async def test_a_pinyin_variant_is_held_in_onboarding_until_two_officers_clear_it(service):
    profile = await service("profile")
    entry = listed("司马建国")
    await load(profile, entry, name=f"sanctions-{uuid.uuid4().hex[:6]}")
    customer = await onboard(profile, "Sima Jianguo")

    [alert] = await open_alerts(profile, customer["id"])
    assert alert["entity_id"] == entry.entity_id and alert["reason_code"] == "sanctions_screening_hit"
    assert alert["decision"] == "match" and "birth date matches" in alert["reasons"]
    [hit] = await profile.published("screening.hit", customer_id=customer["id"])
    assert hit.payload["alert_id"] == alert["id"] and "Sima" not in hit.model_dump_json()

    refused = await activate(profile, customer["id"])
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["reason_code"] == "SCREENING_HIT_OPEN" and "SCREENING_HIT_OPEN" in problem["detail"]
    assert entry.entity_id not in refused.text and alert["id"] not in refused.text

    first = await decide(profile, OFFICER_A, alert["id"], "false_positive")
    assert first.status_code == 200 and first.json()["status"] == "confirming"
    alone = await decide(profile, OFFICER_A, alert["id"], "false_positive")
    assert alone.status_code == 409 and "second compliance officer" in alone.json()["detail"]
    assert (await activate(profile, customer["id"])).status_code == 409  # still undecided

    second = await decide(profile, OFFICER_B, alert["id"], "false_positive")
    assert second.status_code == 200 and second.json()["status"] == "false_positive"
    assert [d["actor"] for d in second.json()["decisions"]] == ["co-a", "co-b"]
    [cleared] = await profile.published("screening.cleared", customer_id=customer["id"])
    assert cleared.payload == {
        "customer_id": customer["id"],
        "alert_id": alert["id"],
        "reason_code": "sanctions_screening_hit",
    }
    async with profile.sessions() as session:
        actions = set(
            await session.scalars(sa.select(audit.table.c.action).where(audit.table.c.customer_id == customer["id"]))
        )
    assert "screening_decision:false_positive" in actions

    assert (await activate(profile, customer["id"])).status_code == 200


async def test_only_compliance_officers_see_and_decide_alerts(service):
    profile = await service("profile")
    await load(profile, listed("欧阳振华"), name=f"sanctions-{uuid.uuid4().hex[:6]}")
    customer = await onboard(profile, "Ouyang Zhenhua")
    [alert] = await open_alerts(profile, customer["id"])
    for role in (MANAGER, ("customer", customer["id"]), ("service_agent", "sa-1"), ("admin", "ad-1")):
        async with profile.client(*role) as http:
            assert (await http.get("/api/v1/screening/alerts")).status_code == 403
            assert (await http.get(f"/api/v1/screening/alerts/{alert['id']}")).status_code == 403
            assert (await http.get("/api/v1/screening/lists")).status_code == 403
            assert (
                await http.post(
                    f"/api/v1/screening/alerts/{alert['id']}/decisions",
                    json={"outcome": "false_positive", "reason": "not them"},
                )
            ).status_code == 403
    # A manager moving the customer learns only the reason code, not which alerts block them.
    blocked = await activate(profile, customer["id"])
    assert blocked.status_code == 409 and "alert_ids" not in blocked.json()


async def test_a_disagreeing_second_officer_sends_the_alert_back_to_open(service):
    profile = await service("profile")
    await load(profile, listed("诸葛文博"), name=f"sanctions-{uuid.uuid4().hex[:6]}")
    customer = await onboard(profile, "Zhuge Wenbo")
    [alert] = await open_alerts(profile, customer["id"])
    assert (await decide(profile, OFFICER_A, alert["id"], "false_positive")).json()["status"] == "confirming"
    back = await decide(profile, OFFICER_B, alert["id"], "true_match", reason="same passport number")
    assert back.json()["status"] == "open" and back.json()["proposed_outcome"] is None
    assert (await activate(profile, customer["id"])).status_code == 409


async def test_a_false_positive_is_raised_again_only_when_the_customer_or_the_entry_changes(service):
    profile = await service("profile")
    name = f"watch-{uuid.uuid4().hex[:6]}"
    entry = listed("上官明辉")
    await load(profile, entry, name=name)
    customer = await onboard(profile, "Shangguan Minghui")
    [alert] = await open_alerts(profile, customer["id"])
    await decide(profile, OFFICER_A, alert["id"], "false_positive")
    await decide(profile, OFFICER_B, alert["id"], "false_positive")

    # The same entry in a new version: the whole book is re-screened, the decision holds.
    await load(profile, entry, name=name)
    assert await open_alerts(profile, customer["id"]) == []

    # The customer's screened data changes: raised again.
    async with profile.client(*MANAGER) as http:
        changed = await http.patch(f"/api/v1/customers/{customer['id']}", json={"name": "Shangguan Ming Hui"})
    assert changed.status_code == 200
    [again] = await open_alerts(profile, customer["id"])
    assert again["trigger"] == "profile_change" and again["id"] != alert["id"]
    await decide(profile, OFFICER_A, again["id"], "false_positive")
    await decide(profile, OFFICER_B, again["id"], "false_positive")

    # The entry changes (an alias added): raised again on re-screening.
    changed_entry = ListedPerson(
        entry.entity_id, (*entry.names, "Shangguan Minghui"), entry.birth_dates, entry.nationalities, entry.topics
    )
    await load(profile, changed_entry, name=name)
    [third] = await open_alerts(profile, customer["id"])
    assert third["trigger"] == "list_version" and third["list_version"] == 3


async def test_a_confirmed_pep_is_rated_high_with_enhanced_due_diligence_and_cannot_be_activated(service):
    profile = await service("profile")
    await load(profile, listed("皇甫志强", topics=("pep",)), name=f"peps-{uuid.uuid4().hex[:6]}")
    customer = await onboard(profile, "Huangfu Zhiqiang", occupation="salaried")
    [alert] = await open_alerts(profile, customer["id"])
    assert alert["reason_code"] == "pep_screening_hit"
    async with profile.client(*MANAGER) as http:
        before = (await http.get(f"/api/v1/customers/{customer['id']}/aml-risk")).json()
    assert before["rating"] == "low" and before["factors"] == []

    await decide(profile, OFFICER_A, alert["id"], "true_match", reason="same person: public office")
    await decide(profile, OFFICER_B, alert["id"], "true_match", reason="same person: public office")
    async with profile.client(*MANAGER) as http:
        after = (await http.get(f"/api/v1/customers/{customer['id']}/aml-risk")).json()
    assert after["rating"] == "high" and "pep" in after["factors"] and after["enhanced_due_diligence"] is True
    changes = await profile.published("aml_risk.changed", customer_id=customer["id"])
    assert [(c.payload["previous_rating"], c.payload["rating"]) for c in changes] == [(None, "low"), ("low", "high")]
    refused = await activate(profile, customer["id"])
    assert refused.status_code == 409 and refused.json()["reason_code"] == "SCREENING_TRUE_MATCH"


async def test_risk_factors_set_the_rating_and_reviews_fall_due_as_tasks(service):
    profile = await service("profile")
    customer = await onboard(profile, "Kjell Bergström", nationality="NO")
    async with profile.client(*MANAGER) as http:
        low = (await http.get(f"/api/v1/customers/{customer['id']}/aml-risk")).json()
        assert low["rating"] == "low"
        await http.patch(
            f"/api/v1/customers/{customer['id']}", json={"cash_intensity": "medium", "onboarding_channel": "online"}
        )
        medium = (await http.get(f"/api/v1/customers/{customer['id']}/aml-risk")).json()
        await http.patch(f"/api/v1/customers/{customer['id']}", json={"residence_country": "IR"})
        high = (await http.get(f"/api/v1/customers/{customer['id']}/aml-risk")).json()
    assert medium["rating"] == "medium" and set(medium["factors"]) == {"cash_intensity_medium", "remote_onboarding"}
    assert high["rating"] == "high" and "high_risk_country" in high["factors"] and high["enhanced_due_diligence"]
    assert high["review_due"] < medium["review_due"]  # high risk is reviewed sooner

    async with profile.client(*OFFICER_A, reason="periodic review") as http:
        assert customer["id"] not in {r["customer_id"] for r in (await http.get("/api/v1/aml-reviews")).json()}
        with clock.shifted(timedelta(days=400)):
            due = [r for r in (await http.get("/api/v1/aml-reviews")).json() if r["customer_id"] == customer["id"]]
            assert len(due) == 1 and due[0]["rating"] == "high"
            done = await http.post(f"/api/v1/aml-reviews/{due[0]['id']}/completion")
            assert done.status_code == 200 and done.json()["review_due"] > high["review_due"]
            assert customer["id"] not in {r["customer_id"] for r in (await http.get("/api/v1/aml-reviews")).json()}
            again = await http.post(f"/api/v1/aml-reviews/{due[0]['id']}/completion")
            assert again.status_code == 409


async def test_risk_ratings_are_seen_only_by_those_who_may_see_the_customer(service):
    profile = await service("profile")
    customer = await onboard(profile, "Ingrid Solberg", nationality="NO")
    async with profile.client("relationship_manager", "rm-other") as http:
        assert (await http.get(f"/api/v1/customers/{customer['id']}/aml-risk")).status_code == 404
    async with profile.client("relationship_manager", "rm-other") as http:
        assert (await http.get("/api/v1/aml-reviews")).status_code == 403
    async with profile.client("customer", customer["id"]) as http:
        assert (await http.post("/api/v1/aml-reviews/1/completion")).status_code == 403


async def test_erasure_keeps_the_alert_but_not_the_name_parts_in_its_reasons(service):
    profile = await service("profile")
    await load(profile, listed("南宫秋月"), name=f"sanctions-{uuid.uuid4().hex[:6]}")
    customer = await onboard(profile, "Nangong Qiuyue")
    [alert] = await open_alerts(profile, customer["id"])
    assert any("nangong" in r for r in alert["reasons"])
    async with profile.client("compliance_officer", "co-a", reason="erasure request") as http:
        erased = await http.post(f"/api/v1/customers/{customer['id']}/erasure", json={"reason": "customer request"})
        assert erased.status_code == 202, erased.text
        kept = (await http.get(f"/api/v1/screening/alerts/{alert['id']}")).json()
    assert kept["reasons"] == ["erased"] and kept["entity_id"] == alert["entity_id"]


async def test_customers_imported_in_bulk_are_screened_by_the_book_job(service):
    import json

    profile = await service("profile")
    await load(profile, listed("端木晓光"), name=f"sanctions-{uuid.uuid4().hex[:6]}")  # its run done before the import
    rows = [
        new_customer(name="Duanmu Xiaoguang", birth_date="1961-03-09", external_ref=f"IMP-{uuid.uuid4().hex[:10]}"),
        new_customer(name="Astrid Lindqvist", external_ref=f"IMP-{uuid.uuid4().hex[:10]}"),
    ]
    async with profile.client("admin", "admin-screen") as http:
        answer = await http.post(
            "/api/v1/customers/imports",
            content="\n".join(json.dumps(r) for r in rows),
            headers={"content-type": "application/x-ndjson"},
        )
    assert answer.status_code == 200, answer.text
    await rescreen_book(profile)
    async with profile.sessions() as session:
        from services.profile.models import Customer

        imported = (
            await session.execute(
                sa.select(Customer.id, Customer.external_ref).where(
                    Customer.external_ref.in_([r["external_ref"] for r in rows])
                )
            )
        ).all()
    by_ref = {ref: cid for cid, ref in imported}
    [alert] = await open_alerts(profile, by_ref[rows[0]["external_ref"]])
    assert alert["trigger"] == "import"
    assert await open_alerts(profile, by_ref[rows[1]["external_ref"]]) == []
    async with profile.client("admin", "admin-screen") as http:  # rated on the way
        rating = await http.get(f"/api/v1/customers/{by_ref[rows[1]['external_ref']]}/aml-risk")
    assert rating.status_code == 200 and rating.json()["rating"] == "low"


async def test_a_listed_person_cannot_be_created_straight_into_active(service):
    profile = await service("profile")
    await load(profile, listed("西门庆华"), name=f"sanctions-{uuid.uuid4().hex[:6]}")
    async with profile.client(*MANAGER) as http:
        refused = await http.post(
            "/api/v1/customers",
            json=new_customer(
                name="Ximen Qinghua", birth_date="1961-03-09", nationality="CN", lifecycle_stage="active"
            ),
        )
    assert refused.status_code == 409 and refused.json()["reason_code"] == "SCREENING_HIT_OPEN"
    assert "Ximen" not in refused.text


async def test_activation_waits_until_the_book_is_screened_against_a_new_list_version(service):
    profile = await service("profile")
    customer = await onboard(profile, "Lucia Ferreira Santos", nationality="PT")
    await load(profile, listed("慕容博远"), name=f"sanctions-{uuid.uuid4().hex[:6]}", rescreen=False)
    waiting = await activate(profile, customer["id"])
    assert waiting.status_code == 409 and waiting.json()["reason_code"] == "SCREENING_PENDING"
    await rescreen_book(profile)
    assert (await activate(profile, customer["id"])).status_code == 200


async def test_compliance_figures_per_portfolio_for_compliance_only(service):
    """A portfolio of three: one rated high (enhanced due diligence), one screening hit awaiting
    a decision, raised today; at +400 days the high one's review is past due."""
    profile = await service("profile")
    await load(profile, listed("欧阳文博"), name=f"sanctions-{uuid.uuid4().hex[:6]}")
    portfolio = f"rm-aml-{uuid.uuid4().hex[:6]}"
    async with profile.client("relationship_manager", portfolio) as http:
        created = []
        for name, fields in (
            ("Sigrid Haugen", {"nationality": "NO"}),
            ("Torvald Lie", {"nationality": "NO"}),
            ("Ouyang Wenbo", {"nationality": "CN", "birth_date": "1961-03-09"}),
        ):
            answer = await http.post(
                "/api/v1/customers", json=new_customer(name=name, lifecycle_stage="onboarding", **fields)
            )
            assert answer.status_code == 201, answer.text
            created.append(answer.json()["id"])
        moved = await http.patch(f"/api/v1/customers/{created[0]}", json={"residence_country": "IR"})
        assert moved.status_code == 200, moved.text
    assert len(await open_alerts(profile, created[2])) == 1

    today = clock.now().date()
    window = {"from": f"{today - timedelta(days=1)}T00:00:00Z", "to": f"{today + timedelta(days=1)}T00:00:00Z"}

    async def figures(caller) -> dict:
        async with profile.client(*caller) as http:
            answer = await http.get("/api/v1/kpis/compliance", params={**window, "by": "manager"})
        assert answer.status_code == 200, answer.text
        return {
            kpi["name"]: next(((g["value"], g["count"]) for g in kpi["breakdown"] if g["key"] == portfolio), None)
            for kpi in answer.json()["kpis"]
        }

    assert await figures(OFFICER_A) == {
        "high_aml_risk_share": (1 / 3, 3),
        "enhanced_due_diligence": (1.0, 1),
        "screening_alerts_raised": (1.0, 1),
        "screening_alerts_undecided": (1.0, 1),
        "aml_reviews_overdue": None,  # nothing past due in this portfolio
    }
    with clock.shifted(timedelta(days=400)):
        assert (await figures(("admin", "admin-1")))["aml_reviews_overdue"] == (1.0, 1)

    # Not a figure for the portfolio's own manager, another manager, a customer or marketing.
    for caller in (
        (("relationship_manager", portfolio)),
        ("relationship_manager", "rm-other"),
        ("customer", created[0]),
        ("marketing_analyst", "ma-1"),
    ):
        async with profile.client(*caller) as http:
            assert (await http.get("/api/v1/kpis/compliance", params=window)).status_code == 403, caller
