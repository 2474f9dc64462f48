"""The daily counts of suitability checks and mismatches (kept by triggers) equal a recount of the
rows after every kind of write, and the KPI route gives what counting the rows gives over a window
with partial days at both edges."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.kit import clock
from services.recommendation.proof.models import (
    SuitabilityCheck,
    SuitabilityCheckDay,
    SuitabilityMismatch,
    SuitabilityMismatchDay,
)
from tests.service.recommendation.helpers import C4_ANSWERS, assess, known_customer, new_product, opened

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
# Moments on four days, two of them in the partial days at the edges of the window below.
MOMENTS = [TODAY - timedelta(days=3, hours=-10), TODAY - timedelta(days=2, hours=-23, minutes=-30)]
MOMENTS += [TODAY - timedelta(days=1, minutes=-10), TODAY + timedelta(hours=1)]
WINDOW = {"from": (TODAY - timedelta(days=2, hours=-13)).isoformat(), "to": (TODAY + timedelta(hours=2)).isoformat()}


async def _recount(session, model, moment, days, keys) -> tuple[Counter, Counter]:
    day = sa.func.date(sa.func.timezone("UTC", moment))
    rows = await session.execute(
        sa.select(day, *(getattr(model, k) for k in keys), sa.func.count()).group_by(
            day, *(getattr(model, k) for k in keys)
        )
    )
    recounted = Counter({(str(r[0]), *r[1:-1]): r[-1] for r in rows})
    kept = await session.execute(sa.select(days.day, *(getattr(days, k) for k in keys), days.count))
    counted = Counter({(str(r[0]), *r[1:-1]): r[-1] for r in kept if r[-1]})
    return recounted, counted


async def _assert_in_step(svc, *, mismatched: bool) -> None:
    async with svc.sessions() as session:
        checks = await _recount(
            session,
            SuitabilityCheck,
            SuitabilityCheck.decided_at,
            SuitabilityCheckDay,
            ("product_code", "product_risk_level", "result", "overridden"),
        )
        mismatches = await _recount(
            session,
            SuitabilityMismatch,
            SuitabilityMismatch.detected_at,
            SuitabilityMismatchDay,
            ("product_code", "product_risk_level"),
        )
    assert checks[0] == checks[1] and checks[0]
    assert mismatches[0] == mismatches[1] and bool(mismatches[0]) == mismatched


async def test_daily_counts_follow_every_write_and_the_kpis_equal_a_count_of_the_rows(service):
    svc = await service("recommendation")
    customer_id = await known_customer(svc, assets="1000000.00")
    await assess(svc, customer_id, C4_ANSWERS)
    risky = await new_product(svc, risk_level="R5")
    fitting = await new_product(svc, risk_level="R3", min_amount="1.00")
    async with svc.client("relationship_manager", "rm-1") as http:
        for moment in MOMENTS:
            with clock.frozen_at(moment):
                for product in (risky, fitting, fitting):
                    answer = await http.post(
                        f"/api/v1/customers/{customer_id}/suitability-checks",
                        json={"product_code": product["code"], "amount": "1000.00"},
                    )
                    assert answer.status_code == 201, answer.text
    await opened(svc, customer_id, fitting["code"])
    async with svc.client("product_manager", "pm-1") as http:
        rerated = await http.post(f"/api/v1/products/{fitting['code']}/risk-rating", json={"risk_level": "R5"})
    assert rerated.status_code == 200, rerated.text
    await _assert_in_step(svc, mismatched=True)

    async with svc.sessions() as session, session.begin():  # an update that moves nothing counted
        await session.execute(sa.update(SuitabilityCheck).values(sold_at=clock.now()))
    async with svc.sessions() as session:  # a rolled-back delete leaves the counts as they were
        async with session.begin():
            await session.execute(sa.delete(SuitabilityCheck))
            await session.rollback()
    await _assert_in_step(svc, mismatched=True)

    async with svc.client("product_manager", "pm-1") as http:
        for by in (None, "product", "risk_level"):
            answer = await http.get("/api/v1/kpis/recommendation", params={**WINDOW, **({"by": by} if by else {})})
            assert answer.status_code == 200, answer.text
            kpis = {k["name"]: k for k in answer.json()["kpis"]}
            async with svc.sessions() as session:
                rows = (
                    (
                        await session.execute(
                            sa.select(SuitabilityCheck).where(
                                SuitabilityCheck.decided_at >= datetime.fromisoformat(WINDOW["from"]),
                                SuitabilityCheck.decided_at < datetime.fromisoformat(WINDOW["to"]),
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
            assert len({r.decided_at.date() for r in rows}) == 3, "the window holds checks on three days"
            for result in ("pass", "warn", "block"):
                mine = [r for r in rows if r.result == result]
                assert kpis[f"checks_{result}"]["value"] == len(mine)
                per_day = Counter(r.decided_at.date().isoformat() for r in mine)
                assert {p["bucket"]: p["count"] for p in kpis[f"checks_{result}"]["series"]} == per_day
                if by:
                    column = "product_code" if by == "product" else "product_risk_level"
                    per_key = Counter(getattr(r, column) for r in mine)
                    assert {g["key"]: g["count"] for g in kpis[f"checks_{result}"]["breakdown"]} == per_key

    async with svc.sessions() as session, session.begin():  # retention deletes the oldest
        await session.execute(sa.delete(SuitabilityCheck).where(SuitabilityCheck.decided_at < MOMENTS[1]))
        await session.execute(sa.delete(SuitabilityMismatch))
    await _assert_in_step(svc, mismatched=False)
